"""CTC forced alignment: where on the time axis each output token was emitted (timestamps, confidence).

:func:`ctc_align` finds the single most probable CTC path (Viterbi) that collapses to exactly
``ids`` and reports, per token, the frames it occupies on that path and a confidence. Frame ``t``
of the model output covers ``[t * frame_shift_s, (t + 1) * frame_shift_s)`` seconds (the
engine knows ``frame_shift_s``: feature hop x subsampling factor).

:func:`ctc_forward_score` is the total probability of ``ids`` (all paths, the CTC loss without the
minus sign), used to score a hypothesis found by other means.

Both are numpy, vectorized over the 2L+1 states of the blank-interleaved label sequence; the
frame loop runs in Python (about 10 us per frame). :func:`ctc_align_batch` aligns many utterances in one
frame loop (the finals of many streams, a batch of an upload's segments).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import numpy as np

NEG_INF = -np.inf
ALIGN_BATCH_CELLS = 1 << 23  # ctc_align_batch: at most 8 MB of back-pointers per frame loop


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
    T, need = lp.shape[0], min_frames(ids)
    if T < need:
        raise ValueError(f"cannot align {len(ids)} tokens to {T} frames: a CTC path for them needs at least "
                         f"{need} frames (one per token, plus a blank between repeated tokens)")
    found: List[Optional[List[TokenSpan]]] = [None]
    _viterbi_batch([lp], [ids], blank, found, [0])
    spans = found[0]
    if spans is None:
        raise ValueError("no CTC path with non-zero probability produces these ids (log_probs has -inf where needed)")
    return spans


def ctc_align_batch(log_probs: Sequence[np.ndarray], ids: Sequence[Sequence[int]],
                    blank: int = 0) -> List[Optional[List[TokenSpan]]]:
    """:func:`ctc_align` of several utterances at once: ``log_probs[i]`` (T_i, V), ``ids[i]``.

    The Viterbi recursion runs over all utterances together (one set of numpy operations per frame for
    the whole batch, padded to the longest), so a batch of finals costs about what one utterance does.
    Each result equals ``ctc_align(log_probs[i], ids[i])``, or is ``None`` where that would raise because
    no path produces the ids (too few frames, or ``-inf`` where needed). Ids that are the blank or
    outside the vocabulary raise ``ValueError``, as in :func:`ctc_align`."""
    ids = [[int(i) for i in row] for row in ids]
    if len(ids) != len(log_probs):
        raise ValueError(f"ctc_align_batch: {len(log_probs)} log_probs for {len(ids)} id lists")
    lps = [_check(lp, row, blank) for lp, row in zip(log_probs, ids)]
    out: List[Optional[List[TokenSpan]]] = [[] if not row else None for row in ids]
    todo = [i for i, row in enumerate(ids) if row and lps[i].shape[0] >= min_frames(row)]
    # Batches of similar sizes whose back-pointer table (frames x utterances x states, one byte each) stays
    # under ALIGN_BATCH_CELLS: padding a short utterance to a long one's size costs work, not only memory.
    todo.sort(key=lambda i: (lps[i].shape[0], len(ids[i])), reverse=True)
    batch: List[int] = []
    longest = 0  # most ids in the batch (its first member has the most frames)
    for i in todo:
        if batch and (len(batch) + 1) * lps[batch[0]].shape[0] * (2 * max(longest, len(ids[i])) + 1) \
                > ALIGN_BATCH_CELLS:
            _viterbi_batch([lps[j] for j in batch], [ids[j] for j in batch], blank, out, batch)
            batch, longest = [], 0
        batch.append(i)
        longest = max(longest, len(ids[i]))
    if batch:
        _viterbi_batch([lps[j] for j in batch], [ids[j] for j in batch], blank, out, batch)
    return out


def _viterbi_batch(lps: List[np.ndarray], ids: List[List[int]], blank: int, out: List[Optional[List[TokenSpan]]],
                   slots: List[int]) -> None:
    """The Viterbi alignment of ``lps[b]`` to ``ids[b]`` for every ``b`` at once (each alignable: enough
    frames); writes the spans, or None where no path has a non-zero probability, to ``out[slots[b]]``."""
    B, V = len(lps), lps[0].shape[1]
    lengths = np.array([lp.shape[0] for lp in lps])
    sizes = np.array([2 * len(row) + 1 for row in ids])
    T, S = int(lengths.max()), int(sizes.max())
    padded = np.zeros((B, T, V))
    ext = np.full((B, S), blank, dtype=np.int64)
    skip = np.zeros((B, S), dtype=bool)
    for b in range(B):
        padded[b, :lengths[b]] = lps[b]
        ext[b, :sizes[b]], skip[b, :sizes[b]] = _extended(ids[b], blank)
    beyond = np.arange(S)[None, :] >= sizes[:, None]  # padding states: never reached
    rows = np.arange(B)[:, None]

    def emit(t):
        e = padded[rows, t, ext]
        e[beyond] = NEG_INF
        return e

    alpha = np.full((B, S), NEG_INF)
    alpha[:, :2] = emit(0)[:, :2]
    back = np.zeros((T, B, S), dtype=np.int8)  # 0: stay, 1: from s-1, 2: from s-2
    prev1 = np.full((B, S), NEG_INF)
    prev2 = np.full((B, S), NEG_INF)
    for t in range(1, T):
        prev1[:, 1:] = alpha[:, :-1]
        prev2[:, 2:] = alpha[:, :-2]
        prev2[~skip] = NEG_INF
        # the first of the largest wins on ties (stay, then s-1, then s-2), as an argmax over them would
        choice = (prev1 > alpha).astype(np.int8)
        best = np.maximum(alpha, prev1)
        from_two = prev2 > best
        choice[from_two] = 2
        best[from_two] = prev2[from_two]
        live = (t < lengths)[:, None]  # an utterance that has ended keeps its last column
        alpha = np.where(live, best + emit(t), alpha)
        back[t] = choice
    for b in range(B):
        n, size = int(lengths[b]), int(sizes[b])
        s = size - 1 if alpha[b, size - 1] >= alpha[b, size - 2] else size - 2
        if not np.isfinite(alpha[b, s]):
            continue
        path = np.empty(n, dtype=np.int64)
        for t in range(n - 1, -1, -1):
            path[t] = s
            s -= int(back[t, b, s])
        # the path never goes back, so each token's frames are one run: where its state starts and ends
        states = 2 * np.arange(len(ids[b])) + 1
        starts, ends = np.searchsorted(path, states, "left"), np.searchsorted(path, states, "right")
        lp = lps[b]
        out[slots[b]] = [TokenSpan(token, int(a), int(e), min(float(np.exp(lp[a:e, token].mean())), 1.0))
                         for token, a, e in zip(ids[b], starts, ends)]


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
