"""Recurrent CTC encoder (``rnn``): subsampling front end + bidirectional LSTM/GRU layers.

With ``bidirectional: false`` the encoder reads left to right and streams (``forward_chunks``): a stream's state
is the recurrent state of every layer plus the front end's pending frames, so each chunk costs work
proportional to the chunk. A bidirectional encoder cannot stream (its backward direction starts at the end of
the utterance) and live streams re-run it on a window.

Deep-Speech-2-style. On small corpora and CPUs it learns CTC alignments in far fewer steps than the
convolutional and attention families (see the comparison table in README), which is why the
quickstart uses its ``rnn_small`` preset.

Front ends (``subsampling``):
  * ``stack``: concatenate ``subsampling_factor`` consecutive frames (no parameters, cheapest);
  * ``conv2d``: the stride-2 Conv2d stack shared with the conformer (``Conv2dSubsampling``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

import torch
from torch import nn

from hypersp.modules.subsampling import Conv2dSubsampling
from hypersp.models.base import SpeechModel, StreamContext
from hypersp.registry import register_model


@dataclass
class RNNConfig:
    name: str = "rnn"
    cell: str = "lstm"              # lstm | gru
    hidden: int = 160               # units per direction
    layers: int = 3
    bidirectional: bool = True      # False gives a streaming-capable (left-to-right) encoder
    subsampling: str = "stack"      # stack | conv2d
    subsampling_factor: int = 4
    subsampling_dim: int = 256      # conv2d front end output size (ignored by stack)
    dropout: float = 0.1            # between recurrent layers


@register_model("rnn", config=RNNConfig)
class RNNModel(SpeechModel):
    """features (B, T, F) + lengths (B,) -> CTC log-probs (B, T', V), T' = ceil(T / subsampling_factor)."""

    default_criterion = "ctc"

    def __init__(self, cfg: RNNConfig, *, input_dim: int, vocab_size: int):
        super().__init__()
        if cfg.cell not in ("lstm", "gru"):
            raise ValueError(f"model.cell={cfg.cell!r}; choose lstm or gru")
        if cfg.subsampling not in ("stack", "conv2d"):
            raise ValueError(f"model.subsampling={cfg.subsampling!r}; choose stack or conv2d")
        if cfg.subsampling_factor < 1:
            raise ValueError(f"model.subsampling_factor must be >= 1, got {cfg.subsampling_factor}")
        self.subsampling_factor = int(cfg.subsampling_factor)
        self.stack = cfg.subsampling == "stack"
        if self.stack:
            self.front = None
            rnn_input = input_dim * self.subsampling_factor
        else:
            self.front = Conv2dSubsampling(input_dim, cfg.subsampling_dim, self.subsampling_factor)
            rnn_input = cfg.subsampling_dim
        rnn_cls = nn.LSTM if cfg.cell == "lstm" else nn.GRU
        self.rnn = rnn_cls(rnn_input, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                           bidirectional=cfg.bidirectional, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.output = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), vocab_size)
        self.input_dim, self.vocab_size = input_dim, vocab_size
        self.supports_streaming = not cfg.bidirectional  # (an instance attribute: it depends on the config)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        if self.stack:
            return torch.div(lengths + self.subsampling_factor - 1, self.subsampling_factor, rounding_mode="floor")
        return self.front.output_lengths(lengths)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.stack:
            b, t, f = features.shape
            s = self.subsampling_factor
            x = nn.functional.pad(features, (0, 0, 0, (-t) % s)).reshape(b, -1, f * s)
            out_lengths = self.output_lengths(lengths)
        else:
            x, out_lengths = self.front(features, lengths)
        # Packing keeps padded frames out of the backward direction's state.
        packed = nn.utils.rnn.pack_padded_sequence(x, out_lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.rnn(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.output(y).float().log_softmax(-1), out_lengths

    # ---- streaming (hypersp/models/base.py), left-to-right encoders only ---------------------------
    def init_stream_state(self, context: StreamContext) -> "RNNStreamState":
        """Before the first frame: no pending front-end frames, zero recurrent state. ``context`` does not apply
        (a recurrent state carries all of the past)."""
        if not self.supports_streaming:
            raise ValueError("a bidirectional rnn cannot stream (its backward direction reads the utterance's end); "
                             "train with model.bidirectional=false")
        like = next(self.parameters())
        front = self.front.init_stream_state(like) if self.front is not None else like.new_zeros(0, self.input_dim)
        received = [0] * len(self.front.convs) if self.front is not None else []
        return RNNStreamState(front, received, None, False)

    def forward_chunks(self, features: List[torch.Tensor], states: List["RNNStreamState"],
                       last: List[bool]) -> Tuple[List[torch.Tensor], List["RNNStreamState"]]:
        """features[i] (T_i, F) of utterance i -> (log_probs[i] (T'_i, V) of its output frames now final, new
        states); all utterances through the front end and the recurrent layers at once. Each utterance's frames
        equal ``forward`` over the whole utterance (the front end pads the end with zeros as ``forward`` does)."""
        self._check_stream_step(features, states)
        s = self.subsampling_factor
        if self.front is not None:
            x, lengths, fronts, received = self.front.forward_chunks(
                features, [st.front for st in states], [st.received for st in states], last)
            rows = [x[i, :n] for i, n in enumerate(lengths)]
        else:  # stack: s frames per output frame; the end is zero-padded to a multiple of s
            rows, fronts, received = [], [], [st.received for st in states]
            for f, st, end in zip(features, states, last):
                buf = torch.cat([st.front, f])
                if end and buf.shape[0] % s:
                    buf = torch.cat([buf, buf.new_zeros(s - buf.shape[0] % s, buf.shape[1])])
                n = buf.shape[0] // s
                rows.append(buf[:n * s].reshape(n, s * buf.shape[1]))
                fronts.append(buf[n * s:])
        hidden: List[Optional[Any]] = [st.hidden for st in states]
        out = [r.new_zeros(0, self.vocab_size) for r in rows]
        moving = [i for i, r in enumerate(rows) if r.shape[0]]
        if moving:
            x = nn.utils.rnn.pad_sequence([rows[i] for i in moving], batch_first=True)
            packed = nn.utils.rnn.pack_padded_sequence(x, [rows[i].shape[0] for i in moving], batch_first=True,
                                                       enforce_sorted=False)
            y, h = self.rnn(packed, self._stack_hidden([hidden[i] for i in moving], x))
            y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
            log_probs = self.output(y).float().log_softmax(-1)
            for k, i in enumerate(moving):
                out[i] = log_probs[k, :rows[i].shape[0]]
                hidden[i] = tuple(t[:, k:k + 1] for t in h) if isinstance(h, tuple) else h[:, k:k + 1]
        return out, [RNNStreamState(fronts[i], received[i], hidden[i], last[i]) for i in range(len(states))]

    def _stack_hidden(self, hidden: List[Optional[Any]], like: torch.Tensor) -> Any:
        """Per-utterance recurrent states (None: zeros) -> the batch's (layers, B, H) state (a pair for LSTM)."""
        zero = like.new_zeros(self.rnn.num_layers, 1, self.rnn.hidden_size)
        if isinstance(self.rnn, nn.LSTM):
            pairs = [h if h is not None else (zero, zero) for h in hidden]
            return torch.cat([h for h, _ in pairs], 1), torch.cat([c for _, c in pairs], 1)
        return torch.cat([h if h is not None else zero for h in hidden], 1)

    def stream_lookahead_frames(self, context: StreamContext) -> int:
        """An output frame waits for the last of its ``subsampling_factor`` input frames."""
        return self.subsampling_factor - 1


@dataclass(frozen=True)
class RNNStreamState:
    """Everything ``RNNModel.forward_chunks`` carries between chunks of one utterance."""

    front: Any  # stack: pending feature frames (< subsampling_factor, F); conv2d: its pending inputs per layer
    received: List[int]  # conv2d front end: input frames received per layer
    hidden: Optional[Any]  # recurrent state (layers, 1, H) (LSTM: a pair); None before the first frame
    closed: bool  # last=True was given
