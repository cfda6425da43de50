"""Public helpers for hypersp's own tests and for plugin authors' tests.

Everything here is generated on the fly (no downloads, no committed audio)::

    from hypersp.testing import tiny_synthetic_corpus, TINY_JASPER
    corpus = tiny_synthetic_corpus(tmp_path, hours=0.02)   # eSpeak NG Korean speech
    corpus["train"]  # path of train.jsonl

    from hypersp.testing import ServerProcess, make_tiny_checkpoint
    ckpt = make_tiny_checkpoint(tmp_path / "tiny.pt")         # untrained, deterministic, < 1 s
    with ServerProcess(ckpt, "minutes") as srv: ...          # a real hypersp-serve on a free port

Importing this package is cheap (no numpy, torch or Sanic until a helper runs).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List

from hypersp.testing.checkpoints import make_tiny_checkpoint
from hypersp.testing.server import ServerProcess, free_port

if TYPE_CHECKING:
    import numpy as np

__all__ = ["TINY_JASPER", "ServerProcess", "free_port", "make_tiny_checkpoint", "sine_wave", "tiny_synthetic_corpus",
           "write_manifest_lines"]

# A jasper config small enough to train a few steps in a test (about 30 k parameters, stride 4).
TINY_JASPER: List[str] = [
    "model.blocks=[{filters: 32, kernel: 11, stride: 2, separable: true},"
    " {filters: 32, repeat: 2, kernel: 11, stride: 2, residual: true, separable: true},"
    " {filters: 64, kernel: 1}]",
]


def tiny_synthetic_corpus(out_dir: str | Path, hours: float = 0.02, seed: int = 0, telephone: bool = False) -> Dict[str, Path]:
    """Generate a few dozen synthetic Korean utterances; returns ``{"train"|"dev"|"test": manifest path}``."""
    from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus

    out_dir = Path(out_dir)
    generate_corpus(out_dir, SyntheticConfig(hours=hours, seed=seed, telephone=telephone,
                                             dev_fraction=0.15, test_fraction=0.15), jobs=1, progress=False)
    return {split: out_dir / f"{split}.jsonl" for split in ("train", "dev", "test")}


def sine_wave(seconds: float, sample_rate: int = 16000, freq: float = 440.0, amplitude: float = 0.3) -> np.ndarray:
    """A float32 sine tone, shape (S,)."""
    import numpy as np

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_manifest_lines(path: str | Path, items: List[dict]) -> Path:
    """Write dicts as a JSON-lines manifest (Hangul kept as is)."""
    path = Path(path)
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8")
    return path
