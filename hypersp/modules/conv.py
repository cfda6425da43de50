"""Masked 1-D convolutions for Jasper/QuartzNet-style encoders (reusable layers, never registered).

Everything here works on channel-first tensors ``(B, C, T)`` with ``lengths (B,)`` = number of
valid frames per utterance. Each convolution zeroes the padded frames of its *input* before it
runs, so frames past an utterance's length never leak into its valid output frames: an
utterance gives the same valid outputs whether it is padded by 0 or by 1000 frames (in eval
mode; in training, batch norm statistics are batch-wide as in NeMo and Jasper).
"""
from __future__ import annotations

from typing import List, Tuple

import torch
from torch import nn


def conv_output_lengths(lengths: torch.Tensor, kernel: int, stride: int = 1, dilation: int = 1, padding: int = 0) -> torch.Tensor:
    """Exact output lengths of ``nn.Conv1d`` for input lengths ``lengths`` (long tensor)."""
    span = dilation * (kernel - 1) + 1
    return torch.div(lengths + 2 * padding - span, stride, rounding_mode="floor") + 1


def same_padding(kernel: int, dilation: int = 1) -> int:
    """Padding that keeps the length for stride 1 (and gives ceil(T / stride) otherwise). Needs an odd kernel."""
    if kernel % 2 == 0:
        raise ValueError(f"kernel sizes must be odd so that 'same' padding is symmetric, got {kernel}")
    return dilation * (kernel // 2)


def length_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, max_len) bool mask, True on valid frames."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def make_activation(name: str) -> nn.Module:
    """``relu`` | ``hardtanh`` (ReLU clipped at 20, as in Jasper/DeepSpeech) | ``silu`` (alias ``swish``) | ``gelu``."""
    name = name.lower()
    if name == "relu":
        return nn.ReLU(inplace=True)
    if name == "hardtanh":
        return nn.Hardtanh(0.0, 20.0, inplace=True)
    if name in ("silu", "swish"):
        return nn.SiLU()  # not in place: its backward needs the input
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {name!r}; choose one of relu, hardtanh, silu (swish), gelu")


class MaskedConv1d(nn.Module):
    """1-D convolution over ``(B, C_in, T)`` that ignores padded input frames.

    ``separable=True`` makes it time-channel separable (QuartzNet): a depthwise convolution
    (one ``kernel``-wide filter per input channel) followed by a pointwise 1x1 convolution
    that mixes channels. Padding is 'same' (``dilation * (kernel // 2)``), so the output has
    ``ceil(T / stride)`` frames; ``output_lengths`` gives the exact arithmetic.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        separable: bool = False,
        bias: bool = False,
    ):
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.padding = same_padding(kernel, dilation)
        if separable and kernel > 1:
            self.depthwise = nn.Conv1d(
                in_channels, in_channels, kernel, stride=stride, dilation=dilation,
                padding=self.padding, groups=in_channels, bias=False,
            )
            self.pointwise = nn.Conv1d(in_channels, out_channels, 1, bias=bias)
        else:  # a 1x1 convolution has nothing to separate
            self.depthwise = None
            self.pointwise = nn.Conv1d(
                in_channels, out_channels, kernel, stride=stride, dilation=dilation,
                padding=self.padding, bias=bias,
            )

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        return conv_output_lengths(lengths, self.kernel, self.stride, self.dilation, self.padding)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C_in, T), lengths: (B,) -> ((B, C_out, T'), lengths' (B,))."""
        # Zero the padding first: whatever an earlier layer (BN bias, activation) wrote
        # there must not reach the valid frames through the kernel.
        x = x.masked_fill(~length_mask(lengths, x.shape[-1])[:, None, :], 0.0)
        if self.depthwise is not None:
            x = self.depthwise(x)
        return self.pointwise(x), self.output_lengths(lengths)


class ConvBN(nn.Module):
    """MaskedConv1d followed by BatchNorm1d (conv without bias: BN supplies the shift)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, dilation: int = 1,
                 separable: bool = False, bn_eps: float = 1e-3, bn_momentum: float = 0.1):
        super().__init__()
        self.conv = MaskedConv1d(in_channels, out_channels, kernel, stride, dilation, separable, bias=False)
        self.bn = nn.BatchNorm1d(out_channels, eps=bn_eps, momentum=bn_momentum)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lengths = self.conv(x, lengths)
        return self.bn(x), lengths


class JasperBlock(nn.Module):
    """One Jasper/QuartzNet block: ``repeat`` sub-blocks of conv-BN-activation-dropout.

    The last sub-block's activation and dropout come after the residual sum (Jasper paper,
    Fig. 1). The residual branch is a 1x1 conv + BN of each residual source: the block input
    for plain residual blocks, or every earlier block output for dense residual (Jasper DR).
    ``stride`` applies to the first sub-block and to the residual 1x1 convs, so both
    branches have the same length.
    """

    def __init__(
        self,
        in_channels: int,
        filters: int,
        repeat: int,
        kernel: int,
        stride: int = 1,
        dilation: int = 1,
        dropout: float = 0.0,
        separable: bool = False,
        activation: str = "relu",
        residual_channels: List[int] = (),
        bn_eps: float = 1e-3,
    ):
        super().__init__()
        if repeat < 1:
            raise ValueError(f"a Jasper block needs repeat >= 1, got {repeat}")
        self.convs = nn.ModuleList()
        channels = in_channels
        for i in range(repeat):
            self.convs.append(ConvBN(channels, filters, kernel, stride if i == 0 else 1, dilation, separable, bn_eps))
            channels = filters
        self.acts = nn.ModuleList(make_activation(activation) for _ in range(repeat))
        self.drops = nn.ModuleList(nn.Dropout(dropout) for _ in range(repeat))
        self.residuals = nn.ModuleList(ConvBN(c, filters, 1, stride, 1, False, bn_eps) for c in residual_channels)

    def forward(self, sources: List[torch.Tensor], lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """sources: earlier outputs, each (B, C_i, T), the block input last; lengths (B,) for all of them.

        The residual branches use the last ``len(self.residuals)`` sources, in order.
        Returns ((B, filters, T'), lengths').
        """
        x, out_lengths = sources[-1], lengths
        last = len(self.convs) - 1
        for i, conv in enumerate(self.convs):
            x, out_lengths = conv(x, out_lengths)
            if i < last:
                x = self.drops[i](self.acts[i](x))
        if len(self.residuals):
            for res, src in zip(self.residuals, sources[len(sources) - len(self.residuals):]):
                x = x + res(src, lengths)[0]
        return self.drops[last](self.acts[last](x)), out_lengths
