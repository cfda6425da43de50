"""Crosstalk (line echo) suppression for recordings with one speaker per channel (stereo call-center audio).

A telephone recording often carries each party faintly on the other's channel (echo, -35 to -20 dB). The VAD
of that channel then finds "speech" where the other party talks: every echo becomes a phantom turn, and when
the parties take turns quickly (pauses shorter than ``vad.min_silence_s``) the echo is glued onto real turns.

The rule (``vad.crosstalk_margin_db``, frame-wise on the VAD's frames, ``vad.frame_ms``/``vad.hop_ms``):

1. A frame of channel ``c`` is *active* when its energy is ``vad.margin_db`` above the channel's noise floor
   (its 10th percentile), as in the energy VAD. An active frame is *echo* when the loudest other channel,
   within ``echo_window_s`` (line echo arrives a few tens of ms late), is more than ``margin_db`` louder;
   otherwise it is *own* speech (``c`` leads, or both talk at comparable levels).
2. Inside each VAD segment of ``c``, a stretch without own frames that contains echo is cut out: at the
   segment's edges always, inside it when it lasts ``vad.min_silence_s`` or longer (a shorter one is a pause
   in ``c``'s turn). The pieces left are padded by ``vad.pad_s`` (within the segment).
3. A piece is a turn of ``c`` when its own frames add up to ``vad.min_speech_s`` and make up at least
   ``min_dominant`` (20 %) of its active frames.

Echo stays ``margin_db`` or more below the original, so its segments (or the echo glued to a real turn) go;
real overlap (both talk at once) keeps both, as each channel leads often enough. A segment without active
frames (a neural VAD's quiet speech) is kept as it is: there is no energy evidence that it is echo.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import numpy as np

from hypersp.config.schema import VadConfig
from hypersp.inference.vad import _runs, frame_energies_db

Span = Tuple[float, float]


def _window_max(e: np.ndarray, k: int) -> np.ndarray:
    """Max of ``e`` over frames ``[i - k, i + k]`` for each ``i``."""
    out = e.copy()
    for s in range(1, k + 1):
        out[s:] = np.maximum(out[s:], e[:-s])
        out[:-s] = np.maximum(out[:-s], e[s:])
    return out


def suppress_crosstalk(spans: Sequence[List[Span]], channels: Sequence[np.ndarray], sample_rate: int,
                       margin_db: float = 10.0, min_dominant: float = 0.2, cfg: Optional[VadConfig] = None,
                       echo_window_s: float = 0.05) -> List[List[Span]]:
    """``spans[c]``: VAD segments (seconds) of ``channels[c]`` (each ``(S,)`` float32 at ``sample_rate``, all of
    one length) -> per channel, the parts of those segments that are turns of that channel (the rule is in the
    module docstring). ``cfg``: the VAD's config (frames, floor margin, pauses, padding; default
    ``VadConfig()``). ``margin_db <= 0`` or fewer than two channels: unchanged."""
    if margin_db <= 0 or len(channels) < 2:
        return [list(s) for s in spans]
    cfg = cfg or VadConfig()
    hop_s, frame_s = cfg.hop_ms / 1000.0, cfg.frame_ms / 1000.0
    energies = [frame_energies_db(ch, sample_rate, cfg.frame_ms, cfg.hop_ms) for ch in channels]
    n = min(e.size for e in energies)
    if n == 0:
        return [list(s) for s in spans]
    energies = [e[:n] for e in energies]
    k = max(0, int(round(echo_window_s / hop_s)))
    loudest = [_window_max(e, k) for e in energies]
    bridge = max(1, int(round(cfg.min_silence_s / hop_s)))
    min_own = max(1, int(round(cfg.min_speech_s / hop_s)))
    kept: List[List[Span]] = []
    for c, segs in enumerate(spans):
        mine = energies[c]
        others = np.max(np.stack([w for j, w in enumerate(loudest) if j != c]), axis=0)
        active = mine > float(np.percentile(mine, 10)) + cfg.margin_db
        echo = active & (mine < others - margin_db)
        own = active & ~echo
        out: List[Span] = []
        for start, end in segs:
            a = min(n - 1, max(0, int(round(start / hop_s))))
            b = min(n, max(a + 1, int(round((end - frame_s) / hop_s)) + 1))
            if not echo[a:b].any():
                out.append((start, end))  # nothing of this segment is dominated by another channel
                continue
            runs = [(a + s, a + t) for s, t in _runs(own[a:b])]
            # Join own runs across stretches without echo, or shorter than a pause that ends a turn.
            pieces: List[List[int]] = []
            for s, t in runs:
                if pieces and (s - pieces[-1][1] < bridge or not echo[pieces[-1][1]:s].any()):
                    pieces[-1][1] = t
                else:
                    pieces.append([s, t])
            for i, (s, t) in enumerate(pieces):
                n_own, n_active = int(own[s:t].sum()), int(active[s:t].sum())
                if n_own < min_own or n_own < min_dominant * n_active:
                    continue
                # a piece reaches the segment's edge unless echo lies between them
                p0 = start if (i == 0 and not echo[a:s].any()) else max(start, s * hop_s - cfg.pad_s)
                last = i == len(pieces) - 1
                p1 = end if (last and not echo[t:b].any()) else min(end, (t - 1) * hop_s + frame_s + cfg.pad_s)
                if out and p0 < out[-1][1]:
                    p0 = out[-1][1]
                if p1 > p0:
                    out.append((round(p0, 3), round(p1, 3)))
        kept.append(out)
    return kept
