"""Convolutional front ends that shorten the time axis before attention layers.

:class:`Conv2dSubsampling` is NeMo's ``striding`` subsampling (also ESPnet's ``Conv2dSubsampling``):
``log2(factor)`` Conv2d layers (kernel 3, stride 2, padding 1, ReLU) over (time, frequency),
then a linear projection of ``channels * F'`` to ``d_model``. Each layer maps T frames to
``ceil(T / 2)``, so the output has ``ceil(T / factor)`` frames for factor 4 (two layers).
Padded frames are zeroed before every convolution, so valid outputs do not depend on padding.
"""
from __future__ import annotations

import math
from typing import List, Tuple

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
        self.freq_sizes = []  # per conv layer, the frequency size of its input
        for _ in range(int(math.log2(factor))):
            layers.append(nn.Conv2d(in_ch, channels, kernel_size=3, stride=2, padding=1))
            self.freq_sizes.append(feat)
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
        # Without autograd the masking and the ReLU work in place on each convolution's output (never on the
        # caller's input): the first layer's output (B, channels, T/2, F/2) is the largest tensor of the model,
        # and two more copies of it cost about what the convolution itself does (torch profiler of demo_ko_16k's
        # forward; the gain: bench/batch_seconds.py, README "Performance").
        inplace = not torch.is_grad_enabled()
        x = x[:, None]  # (B, 1, T, F)
        for index, conv in enumerate(self.convs):
            padding = ~length_mask(lengths, x.shape[2])[:, None, :, None]
            x = x.masked_fill_(padding, 0.0) if inplace and index else x.masked_fill(padding, 0.0)
            x = conv(x)
            x = x.relu_() if inplace else self.act(x)
            lengths = self._halve(lengths)
        B, C, T, F = x.shape
        return self.out(x.transpose(1, 2).reshape(B, T, C * F)), lengths

    def init_stream_state(self, like: torch.Tensor) -> List[torch.Tensor]:
        """Per conv layer, its pending input frames ``(1, C_in, T_pending, F_in)``, starting with the zero
        frame that the convolution's padding puts before frame 0; ``like`` gives dtype and device."""
        return [like.new_zeros(1, conv.in_channels, 1, freq) for conv, freq in zip(self.convs, self.freq_sizes)]

    def forward_chunks(self, xs: List[torch.Tensor], states: List[List[torch.Tensor]], received: List[List[int]],
                       last: List[bool]) -> Tuple[torch.Tensor, List[int], List[List[torch.Tensor]], List[List[int]]]:
        """Streaming forward of several utterances at once (eval mode): the next feature frames ``xs[i] (T_i, F)``
        of utterance i -> ``(out (B, max T_out, d_model), T_out per utterance, new pending inputs, new frame
        counts)``; rows are zero-padded after each utterance's ``T_out[i]`` output frames, now final. Inputs
        are not modified. Output frame t of a layer reads its input frames 2t-1 .. 2t+1, so it waits for 2t+1;
        ``last[i]`` pads the end with zeros as :meth:`forward` does and returns every remaining frame.
        ``received[i][l]`` counts the frames given to layer l so far (its output has ceil(received / 2)).
        Each layer runs once for all utterances: their inputs zero-padded at the end to the longest, which
        changes no output an utterance keeps (a frame reads no input past 2t+1)."""
        xs = [x[None, None] for x in xs]  # (1, 1, T_i, F)
        new_states: List[List[torch.Tensor]] = [[] for _ in xs]
        new_received: List[List[int]] = [[] for _ in xs]
        for layer, conv in enumerate(self.convs):
            bufs, counts = [], []
            for i, x in enumerate(xs):
                pending, n = states[i][layer], received[i][layer]
                buf = torch.cat([pending, x], dim=2)
                n += x.shape[2]
                done = (n + 1 - buf.shape[2]) // 2  # outputs already produced: the buffer starts at input 2*done - 1
                count = max(0, (buf.shape[2] - 3) // 2 + 1)
                if last[i]:
                    count = (n + 1) // 2 - done
                    pad = 2 * count + 1 - buf.shape[2]
                    if pad > 0:
                        buf = torch.cat([buf, buf.new_zeros(1, buf.shape[1], pad, buf.shape[3])], dim=2)
                bufs.append(buf[:, :, :2 * count + 1] if count else buf[:, :, :0])
                counts.append(count)
                new_states[i].append(buf[:, :, 2 * count:])
                new_received[i].append(n)
            width = 2 * max(counts) + 1
            if max(counts) > 0:
                batch = torch.cat([nn.functional.pad(b, (0, 0, 0, width - b.shape[2])) for b in bufs])
                out = self.act(nn.functional.conv2d(batch, conv.weight, conv.bias, stride=2, padding=(0, 1)))
            else:
                out = bufs[0].new_zeros(len(xs), conv.out_channels, 0, (bufs[0].shape[3] + 1) // 2)
            xs = [out[i:i + 1, :, :c] for i, c in enumerate(counts)]
        C, F = xs[0].shape[1], xs[0].shape[3]
        rows = [x[0].transpose(0, 1).reshape(x.shape[2], C * F) for x in xs]  # (T_out, C * F)
        lengths = [r.shape[0] for r in rows]
        return self.out(nn.utils.rnn.pad_sequence(rows, batch_first=True)), lengths, new_states, new_received

    def forward_step(self, frames: torch.Tensor, valid: torch.Tensor, history: List[torch.Tensor]
                     ) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """A streaming step as a pure tensor function (what a compiled step runs; eval mode).

        ``frames (B, 1 + factor * k, F)``: the first conv layer's input from its last already-used frame on (before
        frame 0: the zero frame of its padding); ``valid (B,)`` int64: how many frames after that one are the
        utterance's (``factor * k``, or fewer where the utterance ends: the rest are zeros, as :meth:`forward` pads);
        ``history[l - 1] (B, C, 1, F_l)``: the last input of conv layer ``l >= 1`` -> ``(out (B, k, d_model), new
        history)``. The ``k`` frames are :meth:`forward_chunks`'s for a state whose pending inputs are these (one
        frame per layer >= 1); a stream that goes on keeps that form (each layer gets an even number of new inputs,
        so its output ``t`` reads inputs ``2t - 1 .. 2t + 1`` of its buffer with no padding in time)."""
        x, new_history = frames[:, None], []
        for layer, conv in enumerate(self.convs):
            if layer:
                x = torch.cat([history[layer - 1], x], dim=2)
                valid = self._halve(valid)  # the previous layer's outputs
            # an ending utterance: the inputs after its last frame are zeros, as forward's padding (+1: the first frame)
            x = x.masked_fill(~length_mask(valid + 1, x.shape[2])[:, None, :, None], 0.0)
            x = self.act(nn.functional.conv2d(x, conv.weight, conv.bias, stride=2, padding=(0, 1)))
            if layer + 1 < len(self.convs):
                new_history.append(x[:, :, -1:])  # the next layer's last input
        B, C, T, F = x.shape
        return self.out(x.transpose(1, 2).reshape(B, T, C * F)), new_history
