"""Convolutional front ends that shorten the time axis before attention layers.

:class:`Conv2dSubsampling` is NeMo's ``striding`` subsampling (also ESPnet's ``Conv2dSubsampling``):
``log2(factor)`` Conv2d layers (kernel 3, stride 2, padding 1, ReLU) over (time, frequency),
then a linear projection of ``channels * F'`` to ``d_model``. Each layer maps T frames to
``ceil(T / 2)``, so the output has ``ceil(T / factor)`` frames for factor 4 (two layers).
Padded frames are zeroed before every convolution, so valid outputs do not depend on padding.
"""
from __future__ import annotations

import math
from typing import Tuple

import torch
from torch import nn

from hypersp.modules.conv import length_mask


class Conv2dSubsampling(nn.Module):
    """forward(x (B, T, F), lengths (B,)) -> ((B, T', d_model), lengths' (B,)), T' = ceil(T / factor)."""

    def __init__(self, input_dim: int, d_model: int, factor: int = 4, channels: int = -1):
        super().__init__()
        if factor < 2 or factor & (factor - 1):
            raise ValueError(f"subsampling factor must be a power of two >= 2, got {factor}")
        channels = d_model if channels <= 0 else channels  # NeMo: subsampling_conv_channels=-1 means d_model
        self.factor = factor
        layers = []
        in_ch, feat = 1, input_dim
        for _ in range(int(math.log2(factor))):
            layers.append(nn.Conv2d(in_ch, channels, kernel_size=3, stride=2, padding=1))
            in_ch, feat = channels, (feat + 1) // 2  # ceil(F / 2) with kernel 3, padding 1
        self.convs = nn.ModuleList(layers)
        self.act = nn.ReLU()
        self.out = nn.Linear(channels * feat, d_model)

    @staticmethod
    def _halve(lengths: torch.Tensor) -> torch.Tensor:
        return torch.div(lengths + 1, 2, rounding_mode="floor")  # (L + 2*1 - 3) // 2 + 1 = ceil(L / 2)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        for _ in self.convs:
            lengths = self._halve(lengths)
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x = x[:, None]  # (B, 1, T, F)
        for conv in self.convs:
            x = x.masked_fill(~length_mask(lengths, x.shape[2])[:, None, :, None], 0.0)
            x = self.act(conv(x))
            lengths = self._halve(lengths)
        B, C, T, F = x.shape
        return self.out(x.transpose(1, 2).reshape(B, T, C * F)), lengths
