"""CTC forced alignment: where on the time axis each output token was emitted (timestamps, confidence).

:func:`ctc_align` finds the single most probable CTC path (Viterbi) that collapses to exactly
``ids`` and reports, per token, the frames it occupies on that path and a confidence. Frame ``t``
of the model output covers ``[t * frame_shift_s, (t + 1) * frame_shift_s)`` seconds (the
engine knows ``frame_shift_s``: feature hop x subsampling factor).

:func:`ctc_forward_score` is the total probability of ``ids`` (all paths, the CTC loss without the
minus sign), used to score a hypothesis found by other means.

Both are numpy, vectorized over the 2L+1 states of the blank-interleaved label sequence; the
frame loop runs in Python (about 10 us per frame).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

NEG_INF = -np.inf


@dataclass
class TokenSpan:
    """Token ``id`` is emitted on frames ``[start, end)`` of the best path; ``confidence`` =
    exp(mean natural-log posterior of the token over those frames), within (0, 1]."""

    id: int
    start: int
    end: int
    confidence: float


def min_frames(ids: Sequence[int]) -> int:
    """The fewest frames a CTC path producing ``ids`` needs: one per token plus one blank between
    each pair of equal neighbours."""
    ids = list(ids)
    return len(ids) + sum(1 for a, b in zip(ids, ids[1:]) if a == b)


def _extended(ids: Sequence[int], blank: int) -> Tuple[np.ndarray, np.ndarray]:
    """The blank-interleaved label sequence (2L+1,) and, per state, whether the skip transition
    from two states back is allowed (a token state whose token differs from the previous token)."""
    L = len(ids)
    ext = np.full(2 * L + 1, blank, dtype=np.int64)
    ext[1::2] = np.asarray(ids, dtype=np.int64)
    skip = np.zeros(2 * L + 1, dtype=bool)
    if L > 1:
        skip[3::2] = ext[3::2] != ext[1:-2:2]
    return ext, skip


def _check(log_probs: np.ndarray, ids: Sequence[int], blank: int) -> np.ndarray:
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2:
        raise ValueError(f"expected log_probs of shape (T, V), got {lp.shape}")
    V = lp.shape[1]
    bad = [i for i in ids if not 0 <= int(i) < V or int(i) == blank]
    if bad:
        raise ValueError(f"token ids {bad[:5]} are the blank ({blank}) or outside the vocabulary (size {V})")
    return lp


def ctc_align(log_probs: np.ndarray, ids: Sequence[int], blank: int = 0) -> List[TokenSpan]:
    """Forced alignment of ``ids`` to ``log_probs`` (T, V) natural-log posteriors of one utterance.

    Returns one :class:`TokenSpan` per id, in order, with ``0 <= start < end <= T`` and spans not
    overlapping. Empty ``ids`` give ``[]``. A pair of equal neighbouring ids needs a blank frame
    between them. If ``T`` is smaller than :func:`min_frames` (``ids`` cannot come from these
    frames), a ``ValueError`` says so: a silently invented alignment would give wrong times.
    """
    ids = [int(i) for i in ids]
    lp = _check(log_probs, ids, blank)
    if not ids:
        return []
    T = lp.shape[0]
    need = min_frames(ids)
    if T < need:
        raise ValueError(f"cannot align {len(ids)} tokens to {T} frames: a CTC path for them needs at least "
                         f"{need} frames (one per token, plus a blank between repeated tokens)")
    ext, skip = _extended(ids, blank)
    S = len(ext)
    emit = lp[:, ext]  # (T, S)
    alpha = np.full(S, NEG_INF)
    alpha[0] = emit[0, 0]
    alpha[1] = emit[0, 1]
    back = np.zeros((T, S), dtype=np.int8)  # 0: stay, 1: from s-1, 2: from s-2
    for t in range(1, T):
        prev1 = np.concatenate(([NEG_INF], alpha[:-1]))
        prev2 = np.where(skip, np.concatenate(([NEG_INF, NEG_INF], alpha[:-2]))[:S], NEG_INF)
        stacked = np.stack([alpha, prev1, prev2])
        choice = stacked.argmax(axis=0)
        alpha = stacked[choice, np.arange(S)] + emit[t]
        back[t] = choice
    s = S - 1 if alpha[S - 1] >= alpha[S - 2] else S - 2
    if not np.isfinite(alpha[s]):
        raise ValueError("no CTC path with non-zero probability produces these ids (log_probs has -inf where needed)")
    path = np.empty(T, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        path[t] = s
        s -= int(back[t, s])
    spans: List[TokenSpan] = []
    frames = np.arange(T)
    for k, token in enumerate(ids):
        on = frames[path == 2 * k + 1]
        start, end = int(on[0]), int(on[-1]) + 1
        conf = float(np.exp(lp[start:end, token].mean()))
        spans.append(TokenSpan(token, start, end, min(conf, 1.0)))
    return spans


def ctc_forward_score(log_probs: np.ndarray, ids: Sequence[int], blank: int = 0) -> float:
    """log P_ctc(ids | frames): the log-sum over every CTC path that collapses to ``ids``
    (``-inf`` if there are too few frames)."""
    ids = [int(i) for i in ids]
    lp = _check(log_probs, ids, blank)
    T = lp.shape[0]
    if T == 0:
        return 0.0 if not ids else float(NEG_INF)
    if T < min_frames(ids):
        return float(NEG_INF)
    ext, skip = _extended(ids, blank)
    S = len(ext)
    emit = lp[:, ext]
    alpha = np.full(S, NEG_INF)
    alpha[0] = emit[0, 0]
    if S > 1:
        alpha[1] = emit[0, 1]
    for t in range(1, T):
        prev1 = np.concatenate(([NEG_INF], alpha[:-1]))
        prev2 = np.where(skip, np.concatenate(([NEG_INF, NEG_INF], alpha[:-2]))[:S], NEG_INF)
        alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + emit[t]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if S > 1 else alpha[-1])
