"""Masked 1-D convolutions for Jasper/QuartzNet-style encoders (reusable layers, never registered).

Everything here works on channel-first tensors ``(B, C, T)`` with ``lengths (B,)`` = number of
valid frames per utterance. Each convolution zeroes the padded frames of its *input* before it
runs, so frames past an utterance's length never leak into its valid output frames: an
utterance gives the same valid outputs whether it is padded by 0 or by 1000 frames (in eval
mode; in training, batch norm statistics are batch-wide as in NeMo and Jasper).
"""
from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ConvStreamState:
    """What :meth:`MaskedConv1d.forward_chunks` carries between chunks of one utterance: ``pending (C_in, L)``,
    the last input frames received, from the next output's first input frame on (zeros before frame 0; none
    when that frame is still to come), and the counts of input frames received and output frames produced."""

    pending: torch.Tensor
    received: int
    produced: int


class MaskedConv1d(nn.Module):
    """1-D convolution over ``(B, C_in, T)`` that ignores padded input frames.

    ``separable=True`` makes it time-channel separable (QuartzNet): a depthwise convolution
    (one ``kernel``-wide filter per input channel) followed by a pointwise 1x1 convolution
    that mixes channels. Padding is 'same' (``dilation * (kernel // 2)`` zeros on each side), or with
    ``causal=True`` all ``dilation * (kernel - 1)`` zeros on the left, so that no output reads a later input
    frame than its own (streaming with no lookahead). Either way the output has ``ceil(T / stride)`` frames;
    ``output_lengths`` gives the exact arithmetic.
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
        causal: bool = False,
    ):
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        same = same_padding(kernel, dilation)
        # zeros before and after the input: 'same' (symmetric) or causal (all before)
        self.left_pad, self.right_pad = (2 * same, 0) if causal else (same, same)
        # the symmetric case pads inside nn.Conv1d (one op); the causal one pads explicitly in forward
        inner = same if not causal else 0
        if separable and kernel > 1:
            self.depthwise = nn.Conv1d(
                in_channels, in_channels, kernel, stride=stride, dilation=dilation,
                padding=inner, groups=in_channels, bias=False,
            )
            self.pointwise = nn.Conv1d(in_channels, out_channels, 1, bias=bias)
        else:  # a 1x1 convolution has nothing to separate
            self.depthwise = None
            self.pointwise = nn.Conv1d(
                in_channels, out_channels, kernel, stride=stride, dilation=dilation,
                padding=inner, bias=bias,
            )

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        # the left and right zeros together count as twice the 'same' padding in both layouts
        return conv_output_lengths(lengths, self.kernel, self.stride, self.dilation, (self.left_pad + self.right_pad) // 2)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """x: (B, C_in, T), lengths: (B,) -> ((B, C_out, T'), lengths' (B,))."""
        # Zero the padding first: whatever an earlier layer (BN bias, activation) wrote
        # there must not reach the valid frames through the kernel.
        x = x.masked_fill(~length_mask(lengths, x.shape[-1])[:, None, :], 0.0)
        if self.left_pad != self.right_pad:  # causal
            x = nn.functional.pad(x, (self.left_pad, self.right_pad))
        if self.depthwise is not None:
            x = self.depthwise(x)
        return self.pointwise(x), self.output_lengths(lengths)

    # ---- streaming (JasperModel.forward_chunks) ------------------------------------------------
    def init_stream_state(self) -> ConvStreamState:
        """Before the first frame: the left padding's zeros."""
        c_in = (self.depthwise if self.depthwise is not None else self.pointwise).in_channels
        return ConvStreamState(self.pointwise.weight.new_zeros(c_in, self.left_pad), 0, 0)

    def forward_chunks(self, xs: List[torch.Tensor], states: List[ConvStreamState],
                       last: List[bool]) -> Tuple[torch.Tensor, List[int], List[ConvStreamState]]:
        """Streaming forward of several utterances at once: the next input frames ``xs[i] (C_in, T_i)`` ->
        ``(y (B, C_out, W), counts, new states)``: utterance i's output frames now final are ``y[i, :, :counts[i]]``
        (states are not modified). Output t reads input frames ``t * stride - left_pad .. t * stride + right_pad``,
        so it is final once frame ``t * stride + right_pad`` is in; ``last[i]`` pads the end with zeros as
        :meth:`forward` does and returns every remaining output (``ceil(T / stride)`` in all). One convolution
        runs over all utterances, their buffers zero-padded at the end to the longest (no kept output reads
        past its own buffer)."""
        span = self.dilation * (self.kernel - 1) + 1
        bufs, counts, new_states = [], [], []
        for x, st, end in zip(xs, states, last):
            buf = torch.cat([st.pending, x], dim=1)  # from input frame st.received - pending frames
            # the next output's first input frame; a stride longer than the kernel skips frames nobody reads
            buf = buf[:, st.produced * self.stride - self.left_pad - (st.received - st.pending.shape[1]):]
            n = st.received + x.shape[1]
            if end:
                count = -(-n // self.stride) - st.produced
                need = (count - 1) * self.stride + span if count > 0 else 0
                if need > buf.shape[1]:
                    buf = torch.cat([buf, buf.new_zeros(buf.shape[0], need - buf.shape[1])], dim=1)
            else:
                count = max(0, (n - 1 - self.right_pad) // self.stride - st.produced + 1) if n else 0
            bufs.append(buf[:, :(count - 1) * self.stride + span] if count > 0 else buf[:, :0])
            counts.append(count)
            new_states.append(ConvStreamState(buf[:, count * self.stride:], n, st.produced + count))
        width = max(b.shape[1] for b in bufs)
        if width < span:  # no utterance has an output this time
            return bufs[0].new_zeros(len(xs), self.pointwise.out_channels, 0), counts, new_states
        batch = torch.stack([nn.functional.pad(b, (0, width - b.shape[1])) for b in bufs])  # (B, C_in, width)
        if self.depthwise is not None:
            w = self.depthwise
            y = self.pointwise(nn.functional.conv1d(batch, w.weight, None, w.stride, 0, w.dilation, w.groups))
        else:
            w = self.pointwise
            y = nn.functional.conv1d(batch, w.weight, w.bias, w.stride, 0, w.dilation)
        return y, counts, new_states


class ConvBN(nn.Module):
    """MaskedConv1d followed by BatchNorm1d (conv without bias: BN supplies the shift)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, dilation: int = 1,
                 separable: bool = False, bn_eps: float = 1e-3, bn_momentum: float = 0.1, causal: bool = False):
        super().__init__()
        self.conv = MaskedConv1d(in_channels, out_channels, kernel, stride, dilation, separable, bias=False,
                                 causal=causal)
        self.bn = nn.BatchNorm1d(out_channels, eps=bn_eps, momentum=bn_momentum)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        x, lengths = self.conv(x, lengths)
        return self.bn(x), lengths

    def forward_chunks(self, xs: List[torch.Tensor], states: List[ConvStreamState],
                       last: List[bool]) -> Tuple[torch.Tensor, List[int], List[ConvStreamState]]:
        """:meth:`MaskedConv1d.forward_chunks`, then the batch norm (eval mode: frame by frame)."""
        y, counts, states = self.conv.forward_chunks(xs, states, last)
        return (self.bn(y) if y.shape[-1] else y), counts, states


class JasperBlock(nn.Module):
    """One Jasper/QuartzNet block: ``repeat`` sub-blocks of conv-BN-activation-dropout.

    The last sub-block's activation and dropout come after the residual sum (Jasper paper,
    Fig. 1). The residual branch is a 1x1 conv + BN of each residual source: the block input
    for plain residual blocks, or every earlier block output for dense residual (Jasper DR).
    ``stride`` applies to the first sub-block and to the residual 1x1 convs, so both
    branches have the same length. ``causal`` pads every convolution on the left only (MaskedConv1d).
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
        causal: bool = False,
    ):
        super().__init__()
        if repeat < 1:
            raise ValueError(f"a Jasper block needs repeat >= 1, got {repeat}")
        self.convs = nn.ModuleList()
        channels = in_channels
        for i in range(repeat):
            self.convs.append(ConvBN(channels, filters, kernel, stride if i == 0 else 1, dilation, separable, bn_eps,
                                     causal=causal))
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

    # ---- streaming (JasperModel.forward_chunks; eval mode) ------------------------------------------
    def init_stream_state(self) -> "JasperBlockStreamState":
        return JasperBlockStreamState(
            [c.conv.init_stream_state() for c in self.convs], [r.conv.init_stream_state() for r in self.residuals],
            [r.bn.weight.new_zeros(r.bn.num_features, 0) for r in self.residuals])

    def forward_chunks(self, sources: List[List[torch.Tensor]], states: List["JasperBlockStreamState"],
                       last: List[bool]) -> Tuple[List[torch.Tensor], List["JasperBlockStreamState"]]:
        """Streaming forward of several utterances: ``sources[j][i]`` are utterance i's new frames ``(C_j, T_ij)``
        of source j (as :meth:`forward`'s ``sources``, the block input last) -> each utterance's output frames now
        final ``(filters, T'_i)`` and the new states. The residual branch (1x1 convolutions) has no lookahead, so
        its outputs wait in a queue until the main branch has the same frames."""
        x = sources[-1]
        conv_states: List[List[ConvStreamState]] = [[] for _ in states]
        final = len(self.convs) - 1
        for c, conv in enumerate(self.convs):
            y, counts, new = conv.forward_chunks(x, [st.convs[c] for st in states], last)
            if c < final:
                y = self.drops[c](self.acts[c](y))
            x = [y[i, :, :n] for i, n in enumerate(counts)]
            for i, st in enumerate(new):
                conv_states[i].append(st)
        res_states: List[List[ConvStreamState]] = [[] for _ in states]
        queues: List[List[torch.Tensor]] = [[] for _ in states]
        for r, (res, src) in enumerate(zip(self.residuals, sources[len(sources) - len(self.residuals):])):
            y, counts, new = res.forward_chunks(src, [st.residuals[r] for st in states], last)
            for i, n in enumerate(counts):
                queue = torch.cat([states[i].queues[r], y[i, :, :n]], dim=1)
                m = x[i].shape[1]
                x[i] = x[i] + queue[:, :m]
                queues[i].append(queue[:, m:])
                res_states[i].append(new[i])
        out = [self.drops[final](self.acts[final](xi)) for xi in x]
        return out, [JasperBlockStreamState(conv_states[i], res_states[i], queues[i]) for i in range(len(states))]


@dataclass(frozen=True)
class JasperBlockStreamState:
    """What :meth:`JasperBlock.forward_chunks` carries for one utterance: each convolution's state (main branch,
    then residual branches) and, per residual branch, its outputs waiting for the main branch ``(filters, q)``."""

    convs: List[ConvStreamState]
    residuals: List[ConvStreamState]
    queues: List[torch.Tensor]
