"""Jasper (Li et al. 2019, arXiv:1904.03288) and QuartzNet (Kriman et al. 2020, arXiv:1910.10261).

One registered model, ``jasper``, covers both families: QuartzNet is Jasper with time-channel
separable convolutions. As in NeMo's configs, ``blocks`` lists every convolutional block in
order, the prologue (``residual: false``, usually ``stride: 2``), the residual B-blocks and the
epilogue (``residual: false``); a 1x1 convolution to the vocabulary plus log-softmax follows.
Presets live in ``hypersp/models/jasper/presets/*.yaml`` (see ``hypersp.models.presets``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Tuple

import torch
from torch import nn

from hypersp.modules.conv import JasperBlock, JasperBlockStreamState
from hypersp.models.base import SpeechModel, StreamContext
from hypersp.registry import register_model


@dataclass
class JasperBlockConfig:
    """One block: ``repeat`` sub-blocks of conv(kernel, dilation) - BN - activation - dropout.

    ``stride`` applies to the block's first sub-block. ``residual`` adds a 1x1 conv + BN
    shortcut (from the block input, or from every earlier block output when the model's
    ``dense_residual`` is set). ``separable`` makes the convs time-channel separable
    (depthwise + pointwise, QuartzNet). Kernels must be odd.
    """

    filters: int = 256
    repeat: int = 1
    kernel: int = 11
    stride: int = 1
    dilation: int = 1
    dropout: float = 0.0
    residual: bool = False
    separable: bool = False
    residual_mode: str = "add"  # only "add": shortcut is summed before the last activation


def _small_blocks() -> List[JasperBlockConfig]:
    """The default: ``quartznet_small`` (about 0.82 M parameters at 80 mels and 70 symbols, stride 4)."""
    B = JasperBlockConfig
    return [
        B(filters=128, repeat=1, kernel=33, stride=2, separable=True),
        B(filters=128, repeat=3, kernel=17, stride=2, residual=True, separable=True),
        B(filters=128, repeat=3, kernel=21, residual=True, separable=True),
        B(filters=192, repeat=3, kernel=25, residual=True, separable=True),
        B(filters=192, repeat=3, kernel=31, residual=True, separable=True),
        B(filters=192, repeat=3, kernel=37, residual=True, separable=True),
        B(filters=192, repeat=1, kernel=43, dilation=2, separable=True),
        B(filters=512, repeat=1, kernel=1),
    ]


@dataclass
class JasperConfig:
    """Jasper / QuartzNet encoder + CTC decoder. The default is the ``quartznet_small`` preset."""

    name: str = "jasper"
    blocks: List[JasperBlockConfig] = field(default_factory=_small_blocks)
    dense_residual: bool = False   # Jasper DR: residual blocks get all earlier block outputs
    activation: str = "relu"       # relu | hardtanh | silu | gelu
    bn_eps: float = 1e-3
    conv_causal: bool = False      # pad every convolution on the left only: streams with no lookahead


@register_model("jasper", config=JasperConfig)
class JasperModel(SpeechModel):
    """Convolutional CTC acoustic model.

    forward(features (B, T, F) float, lengths (B,) long) ->
        (log_probs (B, T', V) float, log-softmax over the vocabulary incl. blank 0,
         out_lengths (B,) long, exact conv arithmetic: ceil(T / subsampling_factor) for each stride)
    Frames of an utterance past its length do not influence its valid outputs (eval mode).

    Streaming (``forward_chunks``): every convolution keeps its pending input frames, so each chunk costs work
    proportional to the chunk, and the outputs equal ``forward`` over the whole utterance. Its 'same' padding
    makes each convolution wait for ``dilation * (kernel // 2)`` frames after its own: a frame is final only
    ``stream_lookahead_frames`` feature frames later (about 8.9 s for ``quartznet_small``), so partials of a
    Jasper model come from peeks (``streaming.cached_peek``) or lag by that much. A model trained with
    ``conv_causal: true`` (every convolution padded on the left only, as NeMo's causal convolutions) has no
    lookahead beyond its strides: its frames are final as soon as their own input is in.
    """

    supports_streaming = True

    def __init__(self, cfg: JasperConfig, *, input_dim: int, vocab_size: int):
        super().__init__()
        blocks = list(cfg.blocks)
        if not blocks:
            raise ValueError("model.blocks is empty: give a list of Jasper blocks or use a preset (e.g. quartznet_small)")
        self.dense_residual = bool(cfg.dense_residual)
        self.blocks = nn.ModuleList()
        self._dense: List[bool] = []
        history = [input_dim]  # channels of the outputs a dense residual block would receive
        for i, b in enumerate(blocks):
            if b.residual_mode != "add":
                raise ValueError(f"model.blocks[{i}].residual_mode={b.residual_mode!r} is not supported; use 'add'")
            dense = self.dense_residual and b.residual
            if dense and b.stride != 1:
                raise ValueError(
                    f"model.blocks[{i}] has stride {b.stride} but dense_residual needs stride 1 in residual blocks "
                    "(all summed outputs must have the same length); put the stride in a non-residual block"
                )
            residual_channels = list(history) if dense else (history[-1:] if b.residual else [])
            self.blocks.append(JasperBlock(
                history[-1], b.filters, b.repeat, b.kernel, b.stride, b.dilation, b.dropout,
                b.separable, cfg.activation, residual_channels, cfg.bn_eps, causal=bool(cfg.conv_causal),
            ))
            self._dense.append(dense)
            history = history + [b.filters] if dense else [b.filters]
        self.decoder = nn.Conv1d(history[-1], vocab_size, 1, bias=True)
        self.subsampling_factor = int(math.prod(b.stride for b in blocks))
        self.input_dim, self.vocab_size = input_dim, vocab_size
        self._init_weights()

    def _init_weights(self) -> None:
        # Xavier-uniform convolutions as in NeMo's Jasper; BN keeps weight 1, bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Exact number of output frames for ``lengths`` input frames (long tensor)."""
        for block in self.blocks:
            lengths = block.convs[0].conv.output_lengths(lengths)
        return lengths

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if features.dim() != 3 or features.shape[-1] != self.input_dim:
            raise ValueError(f"expected features (B, T, {self.input_dim}), got {tuple(features.shape)}")
        x = features.transpose(1, 2)  # (B, F, T): convolutions run over time
        lengths = lengths.to(device=features.device, dtype=torch.long)
        history = [x]
        for block, dense in zip(self.blocks, self._dense):
            x, lengths = block(history, lengths)
            history = history + [x] if dense else [x]
        logits = self.decoder(x).transpose(1, 2)  # (B, T', V)
        return logits.float().log_softmax(dim=-1), lengths

    # ---- streaming (hypersp/models/base.py) ---------------------------------------------------------
    def init_stream_state(self, context: StreamContext) -> "JasperStreamState":
        """Before the first frame (``context`` does not apply: convolutions have a fixed receptive field)."""
        return JasperStreamState([block.init_stream_state() for block in self.blocks], False)

    def forward_chunks(self, features: List[torch.Tensor], states: List["JasperStreamState"],
                       last: List[bool]) -> Tuple[List[torch.Tensor], List["JasperStreamState"]]:
        """features[i] (T_i, F) of utterance i -> (log_probs[i] (T'_i, V) of its output frames now final, new
        states), all utterances through each convolution at once; see the contract in hypersp/models/base.py."""
        self._check_stream_step(features, states)
        x = [f.transpose(0, 1) for f in features]  # (F, T_i): convolutions run over time
        history = [x]
        blocks: List[List[JasperBlockStreamState]] = []
        for index, (block, dense) in enumerate(zip(self.blocks, self._dense)):
            x, new = block.forward_chunks(history, [st.blocks[index] for st in states], last)
            blocks.append(new)
            history = history + [x] if dense else [x]
        lengths = [xi.shape[1] for xi in x]
        padded = nn.utils.rnn.pad_sequence([xi.transpose(0, 1) for xi in x], batch_first=True)  # (B, T', C)
        log_probs = self.decoder(padded.transpose(1, 2)).transpose(1, 2).float().log_softmax(dim=-1) if max(lengths) \
            else padded.new_zeros(len(x), 0, self.vocab_size)
        return ([log_probs[i, :n] for i, n in enumerate(lengths)],
                [JasperStreamState([b[i] for b in blocks], last[i]) for i in range(len(states))])

    def stream_lookahead_frames(self, context: StreamContext) -> int:
        """Feature frames after output frame t's first input frame that must be in before it is final: each
        main-branch convolution waits for its right padding ('same': half its span; causal: none), in the frames
        of its own input."""
        frames, stride = 0, 1
        for block in self.blocks:
            for conv in block.convs:
                frames += conv.conv.right_pad * stride
                stride *= conv.conv.stride
        return frames


@dataclass(frozen=True)
class JasperStreamState:
    """Everything ``JasperModel.forward_chunks`` carries between chunks of one utterance."""

    blocks: List[JasperBlockStreamState]
    closed: bool  # last=True was given
