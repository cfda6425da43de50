"""Pictures of a training run, drawn with numpy and Pillow (a TensorBoard dependency; no matplotlib).

- :func:`alignment_image`: one validation utterance's log-mel features above the model's CTC posteriors
  (tokens x time, blank row first) on the same time axis: where the model emits which token.
- :func:`write_training_curves`: ``curves.png`` in the run folder from ``train_log.jsonl``: training loss and
  validation CER against the optimizer step.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def alignment_image(features: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """``features (T, F)`` and ``log_probs (T', V)`` (T' = T / subsampling) -> a ``(1, F + 4 + V, T)``
    float image in [0, 1] (TensorBoard's CHW): features on top (low frequencies at the bottom), a dark gap,
    then the posteriors, each output frame stretched over the input frames it covers."""
    feats = _unit(np.asarray(features, dtype=np.float32)).T[::-1]  # (F, T), low mels at the bottom
    t = feats.shape[1]
    probs = np.exp(np.asarray(log_probs, dtype=np.float32)).T  # (V, T')
    cols = np.minimum((np.arange(t) * probs.shape[1]) // max(t, 1), probs.shape[1] - 1)
    post = probs[:, cols]  # (V, T)
    gap = np.zeros((4, t), dtype=np.float32)
    return np.concatenate([feats, gap, post], axis=0)[None]


def _read_log(path: Path) -> Tuple[List[Tuple[int, float]], List[Tuple[int, float]]]:
    loss, cer = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if "loss" in r and r.get("loss") is not None and np.isfinite(r["loss"]):
            loss.append((int(r["step"]), float(r["loss"])))
        if isinstance(r.get("valid"), dict) and "cer" in r["valid"]:
            cer.append((int(r["step"]), float(r["valid"]["cer"])))
    return loss, cer


def _panel(draw: Any, box: Tuple[int, int, int, int], points: Sequence[Tuple[int, float]], title: str,
           steps: Tuple[int, int], colour: Tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    if not points:
        draw.text((x0 + 8, y0 + 8), f"{title}: no data", fill=(0, 0, 0))
        return
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    span = (hi - lo) or 1.0
    s0, s1 = steps
    xy = [(x0 + (x1 - x0) * (s - s0) / max(s1 - s0, 1), y1 - (y1 - y0) * (v - lo) / span) for s, v in points]
    if len(xy) > 1:
        draw.line(xy, fill=colour, width=2)
    for p in xy if len(xy) < 60 else []:
        draw.ellipse((p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2), fill=colour)
    draw.text((x0 + 8, y0 + 6), f"{title}: last {points[-1][1]:.3g}, min {lo:.3g}, max {hi:.3g}", fill=(0, 0, 0))
    draw.text((x0, y1 + 4), f"step {s0}", fill=(0, 0, 0))
    draw.text((x1 - 70, y1 + 4), f"step {s1}", fill=(0, 0, 0))


def write_training_curves(log_path: str | Path, png_path: str | Path) -> Dict[str, int]:
    """Draw training loss and validation CER (per step) from ``train_log.jsonl`` into a PNG; returns the
    number of points drawn per curve."""
    from PIL import Image, ImageDraw

    loss, cer = _read_log(Path(log_path))
    steps = [s for s, _ in loss + cer] or [0]
    span = (min(steps), max(steps))
    img = Image.new("RGB", (900, 560), "white")
    draw = ImageDraw.Draw(img)
    _panel(draw, (60, 20, 880, 250), loss, "training loss", span, (31, 119, 180))
    _panel(draw, (60, 300, 880, 530), cer, "validation CER %", span, (214, 39, 40))
    img.save(str(png_path))
    return {"loss_points": len(loss), "cer_points": len(cer)}
