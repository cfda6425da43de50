"""A small bidirectional-LSTM CTC model, registered from outside hypersp."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hypersp.models.base import SpeechModel
from hypersp.registry import register_model


@dataclass
class BiLSTMConfig:
    name: str = "bilstm"
    hidden: int = 128
    layers: int = 2
    stride: int = 2        # frames are stacked by this factor before the LSTM
    dropout: float = 0.1


@register_model("bilstm", config=BiLSTMConfig)
class BiLSTMModel(SpeechModel):
    """features (B, T, F), lengths (B,) -> CTC log-probs (B, ceil(T/stride), V), out_lengths (B,)."""

    def __init__(self, cfg: BiLSTMConfig, *, input_dim: int, vocab_size: int):
        super().__init__()
        self.subsampling_factor = cfg.stride
        self.lstm = nn.LSTM(input_dim * cfg.stride, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                            bidirectional=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.output = nn.Linear(2 * cfg.hidden, vocab_size)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor):
        b, t, f = features.shape
        s = self.subsampling_factor
        pad = (-t) % s
        x = nn.functional.pad(features, (0, 0, 0, pad)).reshape(b, (t + pad) // s, f * s)
        out_lengths = torch.div(lengths + s - 1, s, rounding_mode="floor")
        packed = nn.utils.rnn.pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return self.output(y).log_softmax(-1), out_lengths
