"""Crosstalk (line echo) suppression for recordings with one speaker per channel (stereo call-center audio).

A telephone recording often carries each party faintly on the other's channel (echo, -35 to -20 dB). The VAD
of that channel then finds "speech" where the other party talks, and every echo becomes a phantom turn.

Rule, per VAD segment of channel ``c``: over the 10 ms frames of the segment where ``c`` is active (above the
segment's own quietest 10 % + 6 dB), compare ``c``'s energy with the loudest other channel at the same time. The
segment is a turn of ``c`` if, in at least ``min_dominant`` (20 %) of those frames, ``c`` is within
``margin_db`` of the loudest other channel or louder. Echo stays ``margin_db`` or more below the
original, so its segments go; real overlap (both talk at once) keeps both, as each channel leads often enough.
"""
from __future__ import annotations

from typing import List, Sequence, Tuple

import numpy as np

from hypersp.inference.vad import frame_energies_db

Span = Tuple[float, float]


def suppress_crosstalk(spans: Sequence[List[Span]], channels: Sequence[np.ndarray], sample_rate: int,
                       margin_db: float = 10.0, min_dominant: float = 0.2) -> List[List[Span]]:
    """``spans[c]``: VAD segments (seconds) of ``channels[c]`` (each ``(S,)`` float32) -> the segments that are
    turns of their own channel. ``margin_db <= 0`` or fewer than two channels: unchanged."""
    if margin_db <= 0 or len(channels) < 2:
        return [list(s) for s in spans]
    energies = [frame_energies_db(ch, sample_rate, frame_ms=30.0, hop_ms=10.0) for ch in channels]
    n = min(e.size for e in energies)
    energies = [e[:n] for e in energies]
    kept: List[List[Span]] = []
    for c, segs in enumerate(spans):
        others = np.max(np.stack([e for k, e in enumerate(energies) if k != c]), axis=0)
        mine = energies[c]
        out = []
        for start, end in segs:
            a, b = int(start * 100), min(n, max(int(start * 100) + 1, int(end * 100)))
            seg_e = mine[a:b]
            if seg_e.size == 0:
                continue
            active = seg_e > np.percentile(seg_e, 10) + 6.0
            if not active.any():
                active = np.ones_like(seg_e, dtype=bool)
            lead = (seg_e - others[a:b])[active] > -margin_db
            if lead.mean() >= min_dominant:
                out.append((start, end))
        kept.append(out)
    return kept
