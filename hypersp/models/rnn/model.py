"""Recurrent CTC encoder (``rnn``): subsampling front end + bidirectional LSTM/GRU layers.

Deep-Speech-2-style. On small corpora and CPUs it learns CTC alignments in far fewer steps than the
convolutional and attention families (see the comparison table in README), which is why the
quickstart uses its ``rnn_small`` preset.

Front ends (``subsampling``):
  * ``stack``: concatenate ``subsampling_factor`` consecutive frames (no parameters, cheapest);
  * ``conv2d``: the stride-2 Conv2d stack shared with the conformer (``Conv2dSubsampling``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import torch
from torch import nn

from hypersp.modules.subsampling import Conv2dSubsampling
from hypersp.models.base import SpeechModel
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
        return self.output(y).log_softmax(-1), out_lengths
