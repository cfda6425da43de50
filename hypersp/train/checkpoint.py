"""Checkpoints: data only, written atomically, enough to rebuild the model alone.

A checkpoint is a dict of tensors and plain Python values::

    {"format": 1, "hypersp_version": "0.1.0",
     "config": {...resolved config...}, "provenance": {"model": {"name", "module", "distribution"}, ...},
     "tokenizer": {...tokenizer.state_dict()...}, "model": state_dict,
     "step": int, "epoch": int, "best_metric": float, "metrics": {...},
     "optimizer": ..., "scheduler": ..., "rng": {...}}   # training state (absent in exported models)

It is loaded with ``torch.load(weights_only=True)``: a checkpoint is data, never code.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Dict

import torch

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "pretrained"


class CheckpointError(ValueError):
    pass


def shipped_models() -> Dict[str, Path]:
    """Models shipped inside the package, by name (``demo_ko_16k`` -> path)."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.pt"))}


def resolve_checkpoint(name_or_path: str) -> Path:
    """A file path, or the name of a shipped model."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    shipped = shipped_models()
    if name_or_path in shipped:
        return shipped[name_or_path]
    names = ", ".join(shipped) or "none"
    raise CheckpointError(f"checkpoint {name_or_path!r} is neither a file nor a shipped model (shipped: {names})")


def save_checkpoint(state: Dict[str, Any], path: str | Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over ``path``.

    A crash at any instant leaves either the old file or the new one, never a partial file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(name_or_path: str | Path, map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    path = resolve_checkpoint(str(name_or_path))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise CheckpointError(f"{path}: not a readable hypersp checkpoint ({type(err).__name__}: {err})".split("\n")[0]) from err
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise CheckpointError(f"{path}: not a hypersp checkpoint (no 'config'/'model' entries)")
    return state
