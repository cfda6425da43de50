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
