"""Conformer block (Gulati et al. 2020, arXiv:2005.08100), laid out as in NeMo's ``ConformerLayer``.

    x = x + 1/2 FFN(LN(x))                      macaron half-step feed-forward
    x = x + MHSA_rel(LN(x))                     relative positional self-attention
    x = x + Conv(LN(x))                         pointwise-GLU, depthwise, BN, swish, pointwise
    x = x + 1/2 FFN(LN(x))
    y = LN(x)

Tensors are ``(B, T, D)``; ``mask`` is the attention mask of :mod:`hypersp.modules.attention`
(True = may attend), ``pad`` a ``(B, T)`` bool mask, True on valid frames. Padded frames are
zeroed before the depthwise convolution so they never reach valid frames.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import torch
from torch import nn

from hypersp.modules.attention import RelPositionMultiHeadAttention


class FeedForward(nn.Module):
    """Linear(D, hidden) - activation (swish | relu) - dropout - Linear(hidden, D). (B, T, D) -> (B, T, D)."""

    def __init__(self, d_model: int, hidden: int, dropout: float = 0.0, activation: str = "swish"):
        super().__init__()
        if activation not in ("swish", "silu", "relu"):
            raise ValueError(f"feed-forward activation {activation!r}: choose swish (silu) or relu")
        self.linear1 = nn.Linear(d_model, hidden)
        self.activation = nn.SiLU() if activation in ("swish", "silu") else nn.ReLU()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(hidden, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class ConformerConvolution(nn.Module):
    """Pointwise conv (D -> 2D) + GLU, depthwise conv (``kernel``), BatchNorm, swish, pointwise conv.

    ``causal=True`` pads only on the left (kernel - 1 frames), so no output depends on a
    future frame: with limited right attention context this gives a streamable encoder.
    forward(x (B, T, D), pad (B, T) bool) -> (B, T, D)
    """

    def __init__(self, d_model: int, kernel: int = 31, causal: bool = False, bn_eps: float = 1e-5):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"conv_kernel_size must be odd, got {kernel}")
        self.left_pad = kernel - 1 if causal else kernel // 2
        self.right_pad = 0 if causal else kernel // 2
        self.pointwise_conv1 = nn.Conv1d(d_model, 2 * d_model, 1)
        self.glu = nn.GLU(dim=1)
        self.depthwise_conv = nn.Conv1d(d_model, d_model, kernel, groups=d_model)
        self.batch_norm = nn.BatchNorm1d(d_model, eps=bn_eps)
        self.activation = nn.SiLU()
        self.pointwise_conv2 = nn.Conv1d(d_model, d_model, 1)

    def forward(self, x: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        x = self.glu(self.pointwise_conv1(x.transpose(1, 2)))  # (B, D, T)
        x = x.masked_fill(~pad[:, None, :], 0.0)
        x = nn.functional.pad(x, (self.left_pad, self.right_pad))
        x = self.activation(self.batch_norm(self.depthwise_conv(x)))
        return self.pointwise_conv2(x).transpose(1, 2)

    # Streaming (ConformerBlock.forward_chunks): the same layers split at the depthwise convolution, whose
    # input frames are cached between chunks.
    # The pointwise (kernel 1) convolutions run as the equal matrix products: on the few frames of a chunk,
    # torch's conv1d costs several times what linear does (a call's fixed cost dominates).
    def depthwise_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) normalized frames -> (B, D, T): pointwise conv + GLU, the depthwise convolution's input."""
        w = self.pointwise_conv1
        return nn.functional.glu(nn.functional.linear(x, w.weight[:, :, 0], w.bias), dim=-1).transpose(1, 2)

    def from_depthwise_inputs(self, g: torch.Tensor) -> torch.Tensor:
        """(B, D, T + left_pad + right_pad) depthwise inputs with their context -> (B, T, D) module outputs."""
        x = self.activation(self.batch_norm(self.depthwise_conv(g)))
        w = self.pointwise_conv2
        return nn.functional.linear(x.transpose(1, 2), w.weight[:, :, 0], w.bias)


class ConformerBlock(nn.Module):
    """forward(x (B, T, D), pos_emb (1, 2T-1, D), mask (B|1, T, T) bool, pad (B, T) bool) -> (B, T, D)."""

    def __init__(self, d_model: int, n_heads: int, ff_expansion: int = 4, conv_kernel: int = 31,
                 dropout: float = 0.1, dropout_att: float = 0.1, conv_causal: bool = False):
        super().__init__()
        self.norm_feed_forward1 = nn.LayerNorm(d_model)
        self.feed_forward1 = FeedForward(d_model, d_model * ff_expansion, dropout)
        self.norm_self_att = nn.LayerNorm(d_model)
        self.self_attn = RelPositionMultiHeadAttention(d_model, n_heads, dropout_att)
        self.norm_conv = nn.LayerNorm(d_model)
        self.conv = ConformerConvolution(d_model, conv_kernel, conv_causal)
        self.norm_feed_forward2 = nn.LayerNorm(d_model)
        self.feed_forward2 = FeedForward(d_model, d_model * ff_expansion, dropout)
        self.norm_out = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, pos_emb, mask, pad):
        x = x + 0.5 * self.dropout(self.feed_forward1(self.norm_feed_forward1(x)))
        x = x + self.dropout(self.self_attn(self.norm_self_att(x), pos_emb, mask))
        x = x + self.dropout(self.conv(self.norm_conv(x), pad))
        x = x + 0.5 * self.dropout(self.feed_forward2(self.norm_feed_forward2(x)))
        return self.norm_out(x)

    def init_stream_state(self, like: torch.Tensor) -> "BlockStreamState":
        """The state before the first frame; ``like`` gives dtype and device."""
        d, h = self.norm_out.normalized_shape[0], self.self_attn.h
        empty = like.new_zeros(1, 0, d)
        kv = like.new_zeros(1, h, 0, d // h)
        return BlockStreamState(0, 0, 0, 0, empty, kv, kv, like.new_zeros(1, d, self.conv.left_pad), empty)

    def forward_chunks(self, x: torch.Tensor, lengths: List[int], states: List["BlockStreamState"], left: int,
                       right: int, last: List[bool]) -> Tuple[torch.Tensor, List[int], List["BlockStreamState"]]:
        """Streaming forward of several utterances at once (eval mode): the next input frames of utterance i,
        ``x[i, :lengths[i]]`` of ``x (B, T, D)`` -> ``(y (B, T_out, D), out lengths, new states)``: utterance i's
        output frames that are now final are ``y[i, :out_lengths[i]]``. The states are not modified.

        Each utterance's outputs equal :meth:`forward` over its whole input with the attention mask
        ``limited_context_mask(T, left, right)`` (``right >= 0``). An output frame is final once ``right``
        input frames (attention lookahead) plus the depthwise convolution's right half are in; ``last[i]``
        ends utterance i's input (zero padding, as at the end of an utterance) and returns its remaining frames.
        Frame-wise layers run once over the padded batch; each utterance's caches are joined to its new frames
        and padded again for the attention and the convolution, whose masks (and a convolution reading no frame
        past its window) keep the padding out of every kept output.
        """
        pad_rows = nn.utils.rnn.pad_sequence
        x = x + 0.5 * self.feed_forward1(self.norm_feed_forward1(x))
        k_new, v_new = self.self_attn.key_values(self.norm_self_att(x))
        # attention: the queries whose right context is complete, against each utterance's key/value cache
        ks, vs, queries, rest, q_ends, n_ends = [], [], [], [], [], []
        for i, st in enumerate(states):
            T = lengths[i]
            ks.append(torch.cat([st.k[0], k_new[i, :, :T]], dim=1).transpose(0, 1))  # (n - k0, h, d_k)
            vs.append(torch.cat([st.v[0], v_new[i, :, :T]], dim=1).transpose(0, 1))
            x1 = torch.cat([st.x1[0], x[i, :T]])  # residual stream of frames not yet attended: [q, n)
            n = st.n + T
            q1 = n if last[i] else max(st.q, n - right)
            queries.append(x1[:q1 - st.q])
            rest.append(x1[q1 - st.q:])
            q_ends.append(q1)
            n_ends.append(n)
        xq = pad_rows(queries, batch_first=True)  # (B, Q, D)
        q_lengths = [q.shape[0] for q in queries]
        if xq.shape[1]:
            k, v = pad_rows(ks, batch_first=True).transpose(1, 2), pad_rows(vs, batch_first=True).transpose(1, 2)
            xq = xq + self.self_attn.forward_cached(self.norm_self_att(xq), k, v, [st.q for st in states],
                                                    [st.k0 for st in states], left, right, q_lengths,
                                                    [kk.shape[0] for kk in ks])
            g_new = self.conv.depthwise_inputs(self.norm_conv(xq))  # (B, D, Q)
        # convolution: the frames whose window is complete
        rp, lp = self.conv.right_pad, self.conv.left_pad
        conv_ins, residuals, c_ends, new_states = [], [], [], []
        for i, st in enumerate(states):
            Q, q1 = q_lengths[i], q_ends[i]
            conv_in = torch.cat([st.conv_in[0], g_new[i, :, :Q]], dim=1) if Q else st.conv_in[0]  # from frame c - lp
            x2 = torch.cat([st.x2[0], xq[i, :Q]])  # residual stream awaiting the convolution: [c, q1)
            c1 = q1 if last[i] else max(st.c, q1 - rp)
            if last[i] and rp:
                conv_in = torch.cat([conv_in, conv_in.new_zeros(conv_in.shape[0], rp)], dim=1)
            m = c1 - st.c
            conv_ins.append(conv_in[:, :m + lp + rp].transpose(0, 1) if m else conv_in[:, :0].transpose(0, 1))
            residuals.append(x2[:m])
            k0, kk, vv = st.k0, ks[i].transpose(0, 1)[None], vs[i].transpose(0, 1)[None]
            if left >= 0:  # keys older than the next query's left context are never needed again
                drop = max(0, q1 - left - k0)
                kk, vv, k0 = kk[:, :, drop:], vv[:, :, drop:], k0 + drop
            new_states.append(BlockStreamState(n_ends[i], q1, c1, k0, rest[i][None], kk, vv, conv_in[None, :, m:],
                                               x2[None, m:]))
            c_ends.append(m)
        y = pad_rows(residuals, batch_first=True)  # (B, M, D)
        if y.shape[1]:
            g = pad_rows(conv_ins, batch_first=True).transpose(1, 2)  # (B, D, M + lp + rp), zeros past each window
            g = nn.functional.pad(g, (0, y.shape[1] + lp + rp - g.shape[2]))
            y = y + self.conv.from_depthwise_inputs(g)
            y = y + 0.5 * self.feed_forward2(self.norm_feed_forward2(y))
            y = self.norm_out(y)
        return y, c_ends, new_states

    def forward_step(self, x: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, conv_cache: torch.Tensor,
                     positions: torch.Tensor, allowed: torch.Tensor, position_index: torch.Tensor):
        """The block over the ``T`` newest frames with fixed-size caches (attention lookahead 0 and a causal
        convolution, so every output frame is final at once; see ``ConformerStreamStep``): ``x (B, T, D)``,
        ``k_cache``, ``v_cache (B, h, L, d_k)``, ``conv_cache (B, D, kernel - 1)`` the depthwise inputs of the
        frames before ``x`` (zeros before frame 0); ``positions``, ``allowed``, ``position_index`` as in
        ``RelPositionMultiHeadAttention.forward_step``. Returns ``(y (B, T, D), keys, values (B, h, L, d_k),
        conv inputs (B, D, kernel - 1))``: the outputs and the caches for the next frames."""
        if self.conv.right_pad:
            raise ValueError("forward_step needs a causal convolution (conv_causal=true)")
        T = x.shape[1]
        x = x + 0.5 * self.feed_forward1(self.norm_feed_forward1(x))
        att, k, v = self.self_attn.forward_step(self.norm_self_att(x), k_cache, v_cache, positions, allowed,
                                             position_index)
        x = x + att
        g = torch.cat([conv_cache, self.conv.depthwise_inputs(self.norm_conv(x))], dim=2)  # (B, D, kernel - 1 + T)
        x = x + self.conv.from_depthwise_inputs(g)
        x = x + 0.5 * self.feed_forward2(self.norm_feed_forward2(x))
        return self.norm_out(x), k[:, :, T:], v[:, :, T:], g[:, :, T:]


@dataclass(frozen=True)
class BlockStreamState:
    """What :meth:`ConformerBlock.forward_chunks` carries between chunks (frame indices count block inputs).

    ``n`` frames received; attention done for frames ``< q``; convolution done (block output) for ``< c``;
    ``x1`` (1, n-q, D): residual stream awaiting attention; ``k``, ``v`` (1, h, n-k0, d_k): the key/value
    cache from frame ``k0`` (at most ``left`` frames before ``q`` plus the pending ones); ``conv_in``
    (1, D, left_pad + q - c): depthwise inputs from frame ``c - left_pad`` (zeros before frame 0);
    ``x2`` (1, q-c, D): residual stream awaiting the convolution.
    """

    n: int
    q: int
    c: int
    k0: int
    x1: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    conv_in: torch.Tensor
    x2: torch.Tensor
