"""Conformer-CTC (Gulati et al. 2020, arXiv:2005.08100), sized and laid out as NeMo's Conformer-CTC.

Encoder: 4x ``striding`` Conv2d subsampling (channels = d_model) -> relative positional encoding ->
``n_layers`` Conformer blocks (macaron FFN, Transformer-XL relative positional MHSA with biases u/v,
convolution module) -> a linear CTC head with log-softmax.

Streaming: ``att_context_left`` / ``att_context_right`` (frames after subsampling, -1 = unlimited)
or ``chunk_size`` (frames after subsampling, 0 = off) limit the self-attention context, and
``conv_causal`` makes the depthwise convolutions look only at past frames. With
``att_context_right=0`` (or chunks) and ``conv_causal=true`` an output frame depends on no input
beyond the subsampling's one-frame lookahead (chunked: beyond the end of its chunk).

Presets: ``conformer_tiny`` (CPU), ``conformer_small`` / ``_medium`` / ``_large`` (NeMo's table).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple, Union

import torch
from torch import nn

from hypersp.modules.attention import RelPositionalEncoding, limited_context_mask, padding_mask
from hypersp.modules.conformer_block import BlockStreamState, ConformerBlock
from hypersp.modules.subsampling import Conv2dSubsampling
from hypersp.models.base import SpeechModel, StreamContext
from hypersp.registry import register_model


@dataclass
class ConformerConfig:
    """Conformer-CTC encoder. The default is the ``conformer_tiny`` preset (about 1.8 M parameters at 80 mels, 70 symbols)."""

    name: str = "conformer"
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    ff_expansion: int = 4
    conv_kernel_size: int = 15
    subsampling_factor: int = 4          # power of two; Conv2d stride-2 layers = log2(factor)
    subsampling_conv_channels: int = 64  # -1: d_model (NeMo's default)
    dropout: float = 0.1                 # feed-forward, convolution and residual dropout
    dropout_att: float = 0.1             # attention weights
    dropout_emb: float = 0.0             # relative position embeddings
    att_context_left: int = -1           # frames (after subsampling) each frame may look back; -1 = all
    att_context_right: int = -1          # frames (after subsampling) each frame may look ahead; -1 = all
    chunk_size: int = 0                  # >0: chunked attention with this many frames per chunk
    conv_causal: bool = False            # depthwise convolutions see only past frames


@register_model("conformer", config=ConformerConfig)
class ConformerModel(SpeechModel):
    """forward(features (B, T, F), lengths (B,) long) -> (log_probs (B, T', V), out_lengths (B,) long).

    T' = ceil(T / subsampling_factor) (each stride-2 layer maps L to ceil(L / 2)). In eval mode an
    utterance's valid outputs do not depend on how much padding follows it.
    """

    default_criterion = "ctc"
    supports_streaming = True  # forward_chunks: cached attention keys/values and convolution inputs

    def __init__(self, cfg: ConformerConfig, *, input_dim: int, vocab_size: int):
        super().__init__()
        self.input_dim, self.vocab_size = input_dim, vocab_size
        self.subsampling_factor = int(cfg.subsampling_factor)
        self.att_context = (int(cfg.att_context_left), int(cfg.att_context_right), int(cfg.chunk_size))
        self.pre_encode = Conv2dSubsampling(input_dim, cfg.d_model, cfg.subsampling_factor, cfg.subsampling_conv_channels)
        self.pos_enc = RelPositionalEncoding(cfg.d_model, cfg.dropout, cfg.dropout_emb)
        self.layers = nn.ModuleList(
            ConformerBlock(cfg.d_model, cfg.n_heads, cfg.ff_expansion, cfg.conv_kernel_size,
                           cfg.dropout, cfg.dropout_att, cfg.conv_causal)
            for _ in range(cfg.n_layers)
        )
        self.decoder = nn.Linear(cfg.d_model, vocab_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return self.pre_encode.output_lengths(lengths)

    def encode(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """features (B, T, F), lengths (B,) -> (encoder output (B, T', D), lengths' (B,))."""
        if features.dim() != 3 or features.shape[-1] != self.input_dim:
            raise ValueError(f"expected features (B, T, {self.input_dim}), got {tuple(features.shape)}")
        lengths = lengths.to(device=features.device, dtype=torch.long)
        x, lengths = self.pre_encode(features, lengths)
        x, pos_emb = self.pos_enc(x)
        T = x.shape[1]
        mask = padding_mask(lengths, T)  # (B, 1, T)
        left, right, chunk = self.att_context
        if left >= 0 or right >= 0 or chunk > 0:
            mask = mask & limited_context_mask(T, left, right, chunk, device=x.device)
        pad = padding_mask(lengths, T)[:, 0]  # (B, T)
        for layer in self.layers:
            x = layer(x, pos_emb, mask, pad)
        return x, lengths

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lengths = self.encode(features, lengths)
        return self.decoder(x).float().log_softmax(dim=-1), lengths

    # ---- streaming (hypersp/models/base.py) ---------------------------------------------------
    def init_stream_state(self, context: StreamContext) -> "ConformerStreamState":
        """Caches before the first frame: subsampling inputs, and per block the attention key/value cache
        (``context.left`` frames), the depthwise convolution's input frames and the frames awaiting lookahead.
        A model trained with ``att_context_left/right`` set streams with those limits (``context`` is ignored)."""
        left, right, chunk = self.att_context
        if (left, right, chunk) != (-1, -1, 0):  # trained with limited context: stream with exactly that
            if chunk > 0 or right < 0:
                raise ValueError(f"this conformer was trained with att_context_left={left}, att_context_right={right},"
                                 f" chunk_size={chunk}; cached streaming needs chunk_size=0 and a limited right context")
            context = StreamContext(left, right)
        like = next(self.parameters())
        context = StreamContext(int(context.left), int(context.right))
        if self._fixed_cache_size(context):  # the fixed-shape step (ConformerStreamStep): all caches empty
            blocks = StepCache.empty(self, context.left, like)
        else:
            blocks = [layer.init_stream_state(like) for layer in self.layers]
        return ConformerStreamState(context, self.pre_encode.init_stream_state(like), [0] * len(self.pre_encode.convs),
                                    blocks, False)

    def _fixed_cache_size(self, context: StreamContext) -> int:
        """``context.left`` when a stream's blocks can run as :class:`ConformerStreamStep` (no attention lookahead,
        causal convolutions, a bounded left context: every frame is final at once and the caches have fixed
        sizes), else 0 (the general path of ``ConformerBlock.forward_chunks``)."""
        causal = all(layer.conv.right_pad == 0 for layer in self.layers)
        return int(context.left) if causal and int(context.right) == 0 and int(context.left) > 0 else 0

    def stream_step_module(self, context: StreamContext) -> Optional["ConformerStreamStep"]:
        """The tensor-only core of a streaming step for ``context`` (see the contract in hypersp/models/base.py):
        a :class:`ConformerStreamStep`, or None where this model streams ``context`` through the general path."""
        left = self._fixed_cache_size(context)
        return ConformerStreamStep(self, left) if left else None

    def forward_chunks(self, features: List[torch.Tensor], states: List["ConformerStreamState"],
                       last: List[bool], step: Optional[Callable] = None
                       ) -> Tuple[List[torch.Tensor], List["ConformerStreamState"]]:
        """features[i] (T_i, F) of utterance i -> (log_probs[i] (T'_i, V) of its output frames now final, new
        states), all utterances through each layer at once; see the contract in hypersp/models/base.py. Each
        utterance's frames equal ``forward`` of this model with ``att_context_left=context.left,
        att_context_right=context.right`` over the whole utterance.

        Streams without attention lookahead through causal convolutions (``stream_step_module``) run their
        subsampling and blocks as a :class:`ConformerStreamStep`, or as ``step``, a compiled equivalent of it (same
        inputs and outputs, e.g. onnxruntime: ``hypersp.inference.cached_stream``)."""
        self._check_stream_step(features, states)
        for st in states:
            if st.context != states[0].context:
                raise ValueError(f"utterances streamed together need one context, got {st.context} and {states[0].context}")
        ctx = states[0].context
        if isinstance(states[0].blocks, StepCache):
            return self._fixed_cache_steps(features, states, last, step)
        x, lengths, subs, received = self.pre_encode.forward_chunks(
            features, [st.subsampling for st in states], [st.received for st in states], last)
        x = x * self.pos_enc.scale  # RelPositionalEncoding's scaling (its dropout is off in eval)
        blocks = []
        for index, layer in enumerate(self.layers):
            x, lengths, layer_states = layer.forward_chunks(x, lengths, [st.blocks[index] for st in states],
                                                            ctx.left, ctx.right, last)
            blocks.append(layer_states)
        log_probs = self.decoder(x).float().log_softmax(dim=-1)
        return ([log_probs[i, :n] for i, n in enumerate(lengths)],
                [ConformerStreamState(ctx, subs[i], received[i], [b[i] for b in blocks], last[i])
                 for i in range(len(states))])

    def _fixed_cache_steps(self, features: List[torch.Tensor], states: List["ConformerStreamState"],
                           last: List[bool], step: Optional[Callable]
                           ) -> Tuple[List[torch.Tensor], List["ConformerStreamState"]]:
        """``forward_chunks`` of streams whose blocks carry a :class:`StepCache`: subsampling and blocks in ``step``
        (a ConformerStreamStep, or its compiled equivalent) on whole subsampled frames.

        A stream that goes on gives the step its first ``subsampling_factor * n`` new feature frames for ``n``
        output frames (the rest would make no output frame yet: they wait as the first conv layer's pending input);
        one that ends gives all of them, zero-padded to a multiple of the factor, with the count of its own. Rows
        are batched by ``n`` (a server's streams mostly bring the same number of frames per step); a row with no
        frame to make keeps its caches."""
        ctx, factor = states[0].context, self.subsampling_factor
        step = step or ConformerStreamStep(self, ctx.left)
        log_probs: List[torch.Tensor] = [features[0].new_zeros(0, self.vocab_size) for _ in states]
        new, buffers, own, by_frames = list(states), [], [], {}
        for i, (x, st) in enumerate(zip(features, states)):
            buf = torch.cat([st.subsampling[0][0, 0], x])  # (1 + pending + T, F): the first conv layer's input
            frames = buf.shape[0] - 1
            n = -(-frames // factor) if last[i] else frames // factor
            if last[i] and factor * n > frames:
                buf = torch.cat([buf, buf.new_zeros(factor * n - frames, buf.shape[1])])
            buffers.append(buf)
            own.append(min(frames, factor * n))
            by_frames.setdefault(n, []).append(i)
        for n, rows in by_frames.items():
            used = factor * n
            if n:
                caches = [states[i].blocks for i in rows]
                history = [torch.cat([states[i].subsampling[l] for i in rows])
                           for l in range(1, len(self.pre_encode.convs))]
                lp, k_new, v_new, conv_new, *history = step(
                    torch.stack([buffers[i][:1 + used] for i in rows]), torch.cat([c.k for c in caches], dim=1),
                    torch.cat([c.v for c in caches], dim=1), torch.cat([c.conv for c in caches], dim=1),
                    torch.tensor([c.valid for c in caches], dtype=torch.long, device=features[0].device),
                    torch.tensor([own[i] for i in rows], dtype=torch.long, device=features[0].device), *history)
            for j, i in enumerate(rows):
                st = states[i]
                if n:
                    log_probs[i] = lp[j]
                    blocks = StepCache(k_new[:, j:j + 1], v_new[:, j:j + 1], conv_new[:, j:j + 1],
                                       min(k_new.shape[3], st.blocks.valid + n))
                    later = [h[j:j + 1] for h in history]
                else:  # fewer than `factor` frames in all: they wait
                    blocks, later = st.blocks, st.subsampling[1:]
                received = [st.received[0] + features[i].shape[0]] + [
                    count + used // 2 ** l for l, count in enumerate(st.received[1:], start=1)]
                new[i] = ConformerStreamState(ctx, [buffers[i][used:][None, None]] + later, received, blocks, last[i])
        return log_probs, new

    def stream_lookahead_frames(self, context: StreamContext) -> int:
        """Feature frames after output frame t's first input frame (``t * subsampling_factor``) that must be in
        before it is final: the subsampling's receptive field, then per block ``right`` frames for attention
        and the depthwise convolution's right half, each ``subsampling_factor`` feature frames."""
        right_pad = self.layers[0].conv.right_pad if len(self.layers) else 0
        sub_lookahead = self.subsampling_factor - 1
        return sub_lookahead + self.subsampling_factor * len(self.layers) * (int(context.right) + right_pad)


@dataclass(frozen=True)
class ConformerStreamState:
    """Everything ``ConformerModel.forward_chunk`` carries between chunks of one utterance."""

    context: StreamContext
    subsampling: List[torch.Tensor]  # per subsampling conv: pending input frames
    received: List[int]  # per subsampling conv: input frames received
    blocks: Union[List[BlockStreamState], "StepCache"]  # StepCache where the blocks run as ConformerStreamStep
    closed: bool  # last=True was given


@dataclass(frozen=True)
class StepCache:
    """What :class:`ConformerStreamStep` carries between steps of one utterance, for all ``N`` blocks.

    ``k``, ``v`` (N, 1, h, L, d_k): the attention keys/values of the utterance's last ``L`` frames per block (the
    first ``L - valid`` rows are zeros not yet filled); ``conv`` (N, 1, D, kernel - 1): the depthwise convolution's
    inputs of the last ``kernel - 1`` frames (zeros before frame 0, the convolution's own padding); ``valid``:
    frames in the key/value cache, ``min(frames so far, L)``."""

    k: torch.Tensor
    v: torch.Tensor
    conv: torch.Tensor
    valid: int

    @staticmethod
    def empty(model: "ConformerModel", left: int, like: torch.Tensor) -> "StepCache":
        attn, n = model.layers[0].self_attn, len(model.layers)
        kv = like.new_zeros(n, 1, attn.h, left, attn.d_k)
        conv = model.layers[0].conv
        return StepCache(kv, kv.clone(), like.new_zeros(n, 1, conv.depthwise_conv.in_channels, conv.left_pad), 0)


class ConformerStreamStep(nn.Module):
    """The subsampling, blocks and CTC head of a streaming step with fixed-shape caches: a pure tensor function (no
    Python state, dynamic batch and frames), so it can be compiled (exported to onnxruntime) as it is.

    forward(frames (B, 1 + factor * k, F) feature frames: the first subsampling layer's input from its last
    already-used frame on, k, v (N, B, h, L, d_k), conv (N, B, D, kernel - 1), valid (B,) int64: filled rows of
    each key/value cache, frames_valid (B,) int64: the utterance's own frames after the first (fewer than
    ``factor * k`` only where it ends), *history: per later subsampling layer its last input (B, C, 1, F_l)) ->
    (log_probs (B, k, V), k, v, conv, *history: the caches after these frames); see
    ``Conv2dSubsampling.forward_step``. Query frame i (0 .. k-1) of row b sees key j (0 .. L+k-1: the cache, then
    the new frames) when ``i <= j <= L + i`` (at most ``L`` frames back, none ahead) and ``j >= L - valid[b]``: the
    mask of ``att_context_left=L, att_context_right=0``, so the frames equal the masked full forward
    (tests/test_cached_streaming.py)."""

    def __init__(self, model: "ConformerModel", left: int):
        super().__init__()
        self.pre_encode, self.scale = model.pre_encode, model.pos_enc.scale
        self.layers, self.decoder, self.left = model.layers, model.decoder, int(left)
        like = model.decoder.weight
        with torch.no_grad():  # relative positions L .. 0 per block (kept by the attention while its weights stay)
            self.positions = [layer.self_attn._relative_positions(self.left, 0, like.dtype) for layer in self.layers]
        # what an exporter needs (hypersp.inference.cached_stream): names, and which axes are the batch and frames
        history = [f"sub{l}" for l in range(1, len(self.pre_encode.convs))]
        self.input_names = ["frames", "k", "v", "conv", "valid", "frames_valid"] + history
        self.output_names = ["log_probs", "k_out", "v_out", "conv_out"] + [f"{name}_out" for name in history]
        self.dynamic_axes = {"frames": {0: "batch", 1: "frames"}, "k": {1: "batch"}, "v": {1: "batch"},
                             "conv": {1: "batch"}, "valid": {0: "batch"}, "frames_valid": {0: "batch"},
                             **{name: {0: "batch"} for name in history}}

    def example_inputs(self, frames: int = 2) -> Tuple[torch.Tensor, ...]:
        """Inputs of one utterance at its start making ``frames`` subsampled frames (for tracing and export)."""
        like = self.decoder.weight
        cache = StepCache.empty(self, self.left, like)
        count = self.pre_encode.factor * frames
        return (like.new_zeros(1, 1 + count, self.pre_encode.freq_sizes[0]), cache.k, cache.v, cache.conv,
                torch.zeros(1, dtype=torch.long, device=like.device),
                torch.full((1,), count, dtype=torch.long, device=like.device),
                *self.pre_encode.init_stream_state(like)[1:])

    def forward(self, frames: torch.Tensor, k: torch.Tensor, v: torch.Tensor, conv: torch.Tensor,
                valid: torch.Tensor, frames_valid: torch.Tensor, *history: torch.Tensor):
        x, history = self.pre_encode.forward_step(frames, frames_valid, list(history))
        x = x * self.scale  # RelPositionalEncoding's scaling (its dropout is off in eval)
        B, T, _ = x.shape
        L = self.left
        query = torch.arange(T, device=x.device)[:, None]
        key = torch.arange(L + T, device=x.device)[None, :]
        rel = L + query - key  # (T, L + T): relative position of key j to query i
        allowed = ((rel >= 0) & (rel <= L))[None] & (key[None] >= (L - valid)[:, None, None])  # (B, T, L + T)
        h = k.shape[2]
        index = (L - rel.clamp(0, L))[None, None].expand(B, h, T, L + T)
        ks, vs, convs = [], [], []
        for n, layer in enumerate(self.layers):
            x, k_n, v_n, c_n = layer.forward_step(x, k[n], v[n], conv[n], self.positions[n], allowed, index)
            ks.append(k_n)
            vs.append(v_n)
            convs.append(c_n)
        return (self.decoder(x).float().log_softmax(dim=-1), torch.stack(ks), torch.stack(vs), torch.stack(convs), *history)
