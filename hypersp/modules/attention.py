"""Multi-head attention layers and masks (reusable layers, never registered).

Shapes: queries ``(B, T_q, D)``, keys/values ``(B, T_k, D)``. A ``mask`` is a bool tensor
broadcastable to ``(B, T_q, T_k)``, **True where attention is allowed**. Rows with no allowed key
(a padded query whose window holds only padding) give a zero output instead of NaN.

- :class:`MultiHeadAttention`: scaled dot-product attention (Vaswani et al. 2017).
- :class:`RelPositionMultiHeadAttention`: Transformer-XL relative positional attention with the
  learned biases u and v (Dai et al. 2019), as in ESPnet's and NeMo's Conformer.
- :class:`RelPositionalEncoding` / :class:`PositionalEncoding`: sinusoidal encodings.
- :func:`padding_mask`, :func:`limited_context_mask`, :func:`causal_mask`: mask builders.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
from torch import nn


def padding_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, 1, max_len) bool, True on valid key frames: the key mask for self-attention."""
    return (torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None])[:, None, :]


def causal_mask(length: int, device=None) -> torch.Tensor:
    """(1, T, T) bool, True where key j <= query i (decoder self-attention)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()[None]


def limited_context_mask(length: int, left: int = -1, right: int = -1, chunk_size: int = 0, device=None) -> torch.Tensor:
    """(1, T, T) bool mask that limits which frames each frame may attend to (streaming).

    Without chunks (``chunk_size=0``): query i sees keys j with ``i - left <= j <= i + right``;
    ``-1`` means unlimited on that side. With ``chunk_size=C > 0``: frames are grouped in chunks of
    C; a query sees every key of its own chunk and of earlier chunks, but no future chunk
    (``right`` is ignored) and no key more than ``left`` frames before the start of its chunk
    (``left=-1``: all history). Chunked attention is what a streaming recognizer that receives
    C frames at a time can compute exactly.
    """
    i = torch.arange(length, device=device)[:, None]
    j = torch.arange(length, device=device)[None, :]
    if chunk_size > 0:
        chunk_start = torch.div(i, chunk_size, rounding_mode="floor") * chunk_size
        allowed = j < chunk_start + chunk_size
        if left >= 0:
            allowed &= j >= chunk_start - left
    else:
        allowed = torch.ones(length, length, dtype=torch.bool, device=device)
        if left >= 0:
            allowed &= j >= i - left
        if right >= 0:
            allowed &= j <= i + right
    return allowed[None]


class PositionalEncoding(nn.Module):
    """Absolute sinusoidal encoding: ``x * sqrt(D) + PE[:T]`` followed by dropout. x: (B, T, D)."""

    def __init__(self, d_model: int, dropout: float = 0.0, max_len: int = 5000):
        super().__init__()
        self.d_model = d_model
        self.scale = math.sqrt(d_model)
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", sinusoids(torch.arange(max_len, dtype=torch.float32), d_model), persistent=False)

    def forward(self, x: torch.Tensor, offset: int = 0) -> torch.Tensor:
        T = x.shape[1]
        if offset + T > self.pe.shape[0]:  # grow for long inputs instead of failing
            self.pe = sinusoids(torch.arange(offset + T, dtype=torch.float32, device=x.device), self.d_model)
        return self.dropout(x * self.scale + self.pe[offset:offset + T].to(x.dtype))


def sinusoids(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """(N,) positions (may be negative) -> (N, D) sin/cos encodings (Vaswani et al. 2017)."""
    inv_freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32, device=positions.device)
                         * (-math.log(10000.0) / d_model))
    angles = positions[:, None].float() * inv_freq[None, :]
    pe = torch.zeros(positions.shape[0], d_model, device=positions.device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles)
    return pe


class RelPositionalEncoding(nn.Module):
    """Scales the input by sqrt(D) and returns the encodings of relative positions.

    forward(x (B, T, D)) -> (dropout(x * sqrt(D)) (B, T, D), pos_emb (1, 2T-1, D)) where
    ``pos_emb[0, k]`` encodes the relative position ``(T - 1) - k`` (from T-1 down to -(T-1)).
    """

    def __init__(self, d_model: int, dropout: float = 0.0, dropout_emb: float = 0.0):
        super().__init__()
        self.d_model = d_model
        self.scale = math.sqrt(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout_emb = nn.Dropout(dropout_emb)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        T = x.shape[1]
        positions = torch.arange(T - 1, -T, -1, device=x.device)
        pos_emb = sinusoids(positions, self.d_model).to(x.dtype)[None]
        return self.dropout(x * self.scale), self.dropout_emb(pos_emb)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product multi-head attention with biases on q, k, v and the output projection.

    forward(query (B, T_q, D), key (B, T_k, D), value (B, T_k, D), mask (B|1, T_q|1, T_k) bool)
      -> (B, T_q, D)
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_k = d_model // n_heads
        self.h = n_heads
        self.linear_q = nn.Linear(d_model, d_model)
        self.linear_k = nn.Linear(d_model, d_model)
        self.linear_v = nn.Linear(d_model, d_model)
        self.linear_out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor, linear: nn.Linear) -> torch.Tensor:
        B, T, _ = x.shape
        return linear(x).view(B, T, self.h, self.d_k).transpose(1, 2)  # (B, h, T, d_k)

    def _attend(self, scores: torch.Tensor, v: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
        """scores (B, h, T_q, T_k) already scaled; v (B, h, T_k, d_k) -> (B, T_q, D)."""
        if mask is not None:
            mask = mask[:, None]  # broadcast over heads
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
            attn = torch.softmax(scores, dim=-1).masked_fill(~mask, 0.0)  # all-masked rows -> 0, not NaN
        else:
            attn = torch.softmax(scores, dim=-1)
        out = torch.matmul(self.dropout(attn), v)  # (B, h, T_q, d_k)
        B, _, T_q, _ = out.shape
        return self.linear_out(out.transpose(1, 2).reshape(B, T_q, self.h * self.d_k))

    def forward(self, query, key, value, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        q, k, v = self._heads(query, self.linear_q), self._heads(key, self.linear_k), self._heads(value, self.linear_v)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.d_k)
        return self._attend(scores, v, mask)


class RelPositionMultiHeadAttention(MultiHeadAttention):
    """Transformer-XL relative positional self-attention (Dai et al. 2019, Sec. 3.3).

    score(i, j) = (q_i + u) . k_j + (q_i + v) . W_pos p_{i-j}, divided by sqrt(d_k), with learned
    per-head biases u (``pos_bias_u``) and v (``pos_bias_v``) and a bias-free ``linear_pos``.
    forward(x (B, T, D), pos_emb (1, 2T-1, D) from :class:`RelPositionalEncoding`, mask) -> (B, T, D)
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0):
        super().__init__(d_model, n_heads, dropout)
        self.linear_pos = nn.Linear(d_model, d_model, bias=False)
        # zero-initialised as in NeMo; learned during training
        self.pos_bias_u = nn.Parameter(torch.zeros(n_heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(n_heads, self.d_k))

    def forward(self, x: torch.Tensor, pos_emb: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        B, T, _ = x.shape
        q = self._heads(x, self.linear_q)  # (B, h, T, d_k)
        k, v = self._heads(x, self.linear_k), self._heads(x, self.linear_v)
        p = self.linear_pos(pos_emb).view(1, -1, self.h, self.d_k).transpose(1, 2)  # (1, h, 2T-1, d_k)
        content = torch.matmul(q + self.pos_bias_u[None, :, None, :], k.transpose(-2, -1))  # (B, h, T, T)
        position = torch.matmul(q + self.pos_bias_v[None, :, None, :], p.transpose(-2, -1))  # (B, h, T, 2T-1)
        # Column k of ``position`` is relative position (T-1) - k; pick i - j for entry (i, j).
        # A gather says this directly (ESPnet's "rel_shift" does the same with a pad-and-reshape trick).
        idx = (T - 1) - torch.arange(T, device=x.device)[:, None] + torch.arange(T, device=x.device)[None, :]
        position = position.gather(-1, idx[None, None].expand(B, self.h, T, T))
        scores = (content + position) / math.sqrt(self.d_k)
        return self._attend(scores, v, mask)

    def forward_cached(self, x: torch.Tensor, k: torch.Tensor, v: torch.Tensor, q_starts: List[int],
                       k_starts: List[int], left: int = -1, right: int = -1, q_lengths: Optional[List[int]] = None,
                       k_lengths: Optional[List[int]] = None) -> torch.Tensor:
        """Attention of new queries to cached keys/values (streaming; the same arithmetic as :meth:`forward`).

        Row b of the batch is one utterance: ``x[b, :q_lengths[b]]`` (of ``x (B, T_q, D)``, normalized inputs)
        are its query frames ``q_starts[b] ..``; ``k[b, :, :k_lengths[b]]``, ``v`` (of ``(B, h, T_k, d_k)``, the
        ``key_values`` projections) its keys from frame ``k_starts[b]``; the rest of each row is padding
        (lengths default to the whole row). Query i sees key j when ``i - left <= j <= i + right`` (``-1``:
        unlimited), as :func:`limited_context_mask` without chunks. Returns ``(B, T_q, D)``; padded query rows
        attend to nothing.
        """
        B, T_q, _ = x.shape
        T_k = k.shape[2]
        dev = x.device
        q = self._heads(x, self.linear_q)
        offsets = [qs - ks for qs, ks in zip(q_starts, k_starts)]  # query frame 0 minus key frame 0, per row
        rel = torch.tensor(offsets, device=dev)[:, None, None] + torch.arange(T_q, device=dev)[:, None] \
            - torch.arange(T_k, device=dev)  # (B, T_q, T_k)
        r_max, r_min = max(offsets) + T_q - 1, min(offsets) - (T_k - 1)
        p = self._relative_positions(r_max, r_min, x.dtype)  # (1, h, P, d_k)
        content = torch.matmul(q + self.pos_bias_u[None, :, None, :], k.transpose(-2, -1))
        position = torch.matmul(q + self.pos_bias_v[None, :, None, :], p.transpose(-2, -1))
        position = position.gather(-1, (r_max - rel)[:, None].expand(B, self.h, T_q, T_k))
        scores = (content + position) / math.sqrt(self.d_k)
        allowed = torch.ones(B, T_q, T_k, dtype=torch.bool, device=dev)
        if q_lengths is not None and min(q_lengths) < T_q:  # (rows without padding need no mask)
            allowed &= torch.arange(T_q, device=dev)[:, None] < torch.tensor(q_lengths, device=dev)[:, None, None]
        if k_lengths is not None and min(k_lengths) < T_k:
            allowed &= torch.arange(T_k, device=dev) < torch.tensor(k_lengths, device=dev)[:, None, None]
        if left >= 0:
            allowed &= rel <= left
        if right >= 0:
            allowed &= rel >= -right
        return self._attend(scores, v, allowed)

    def forward_step(self, x: torch.Tensor, k_cache: torch.Tensor, v_cache: torch.Tensor, positions: torch.Tensor,
                     allowed: torch.Tensor, position_index: torch.Tensor
                     ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attention of the ``T`` newest frames to a fixed-size cache of the ``L`` frames before them and to
        themselves (streaming with fixed shapes, :class:`hypersp.models.conformer.model.ConformerStreamStep`).

        ``x (B, T, D)`` normalized inputs; ``k_cache``, ``v_cache (B, h, L, d_k)``; ``positions (1, h, L + 1, d_k)``:
        ``_relative_positions(L, 0)`` (passed in, so that a compiled step holds it as a constant); ``allowed (B, T,
        L + T)`` bool: which keys each query sees (every row allows at least the query's own frame); ``position_index (B, h, T,
        L + T)`` int64: for query i and key j, ``L - (relative position i - j)`` clamped to ``0 .. L`` (masked
        entries may point anywhere). Returns ``(out (B, T, D), keys (B, h, L + T, d_k), values)``: the keys and
        values of the cache followed by the new frames'. The same arithmetic as :meth:`forward`."""
        q = self._heads(x, self.linear_q)
        k = torch.cat([k_cache, self._heads(x, self.linear_k)], dim=2)
        v = torch.cat([v_cache, self._heads(x, self.linear_v)], dim=2)
        content = torch.matmul(q + self.pos_bias_u[None, :, None, :], k.transpose(-2, -1))
        position = torch.matmul(q + self.pos_bias_v[None, :, None, :], positions.transpose(-2, -1))
        position = position.gather(-1, position_index)
        return self._attend((content + position) / math.sqrt(self.d_k), v, allowed), k, v

    def _relative_positions(self, r_max: int, r_min: int, dtype: torch.dtype) -> torch.Tensor:
        """``linear_pos`` of the encodings of relative positions ``r_max`` down to ``r_min``: (1, h, P, d_k).
        A stream's steps ask for the same range again and again (the key cache is full after a few seconds), so
        the last result is kept, keyed by the range and the weights' identity and version (training or loading
        new weights makes it stale)."""
        w = self.linear_pos.weight
        key = (r_max, r_min, dtype, w.data_ptr(), w._version, w.device)
        cached = getattr(self, "_positions_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        pos_emb = sinusoids(torch.arange(r_max, r_min - 1, -1, device=w.device), self.d_k * self.h).to(dtype)[None]
        p = self.linear_pos(pos_emb).view(1, -1, self.h, self.d_k).transpose(1, 2)
        if not torch.is_grad_enabled():  # (a tensor holding a graph is not kept)
            self._positions_cache = (key, p)
        return p

    def key_values(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(B, T, D) normalized inputs -> key and value projections, each (B, h, T, d_k) (the cache)."""
        return self._heads(x, self.linear_k), self._heads(x, self.linear_v)
