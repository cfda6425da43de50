"""Checkpoint averaging: the element-wise mean of the ``model`` weights of several checkpoints.

Averaging the last/best few checkpoints of a run usually gives a lower error than any one of
them (ESPnet, NeMo and fairseq all ship it). Floating-point tensors are averaged in float64 and
cast back; integer tensors (e.g. BatchNorm's ``num_batches_tracked``) are taken from the best
checkpoint. When a run trained with EMA, ``model`` already holds the EMA weights, so the EMA
weights are what gets averaged.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import torch

from hypersp.checkpoint import CheckpointError, load_checkpoint

TRAINING_KEYS = ("optimizer", "scheduler", "scaler", "rng", "train_model", "ema_updates", "step_checkpoints")


def run_checkpoints(run_dir: str | Path) -> List[Tuple[float, int, Path]]:
    """``(validation CER, step, path)`` of every ``ckpt_step*.pt`` in ``run_dir``, best first.

    Step checkpoints are written by the trainer with ``trainer.keep_best_n`` / ``keep_last_n``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: not a run folder")
    found = []
    for path in sorted(run_dir.glob("ckpt_step*.pt")):
        state = load_checkpoint(path)
        cer = state.get("metrics", {}).get("cer")
        found.append((math.inf if cer is None else float(cer), int(state.get("step", 0)), path))
    if not found:
        raise CheckpointError(f"{run_dir}: no ckpt_step*.pt checkpoints; train with trainer.keep_best_n=N "
                              f"(or keep_last_n=N), or pass checkpoint files explicitly")
    return sorted(found, key=lambda x: (x[0], -x[1]))


def average_checkpoints(paths: Sequence[str | Path]) -> Dict[str, Any]:
    """A checkpoint whose ``model`` is the mean of the given checkpoints' models.

    Everything else (config, tokenizer, provenance, metrics) comes from the first path, the
    training state is dropped, and ``averaged_from`` lists the sources.
    """
    if not paths:
        raise CheckpointError("no checkpoints to average")
    states = [load_checkpoint(p) for p in paths]
    base = states[0]
    keys = set(base["model"])
    for p, s in zip(paths, states):
        if set(s["model"]) != keys:
            raise CheckpointError(f"{p}: its model has different parameters from {paths[0]}; "
                                  f"only checkpoints of the same model can be averaged")
    averaged = {}
    for k, v in base["model"].items():
        if v.dtype.is_floating_point:
            total = sum(s["model"][k].to(torch.float64) for s in states)
            averaged[k] = (total / len(states)).to(v.dtype)
        else:
            averaged[k] = v.clone()
    out = {k: v for k, v in base.items() if k not in TRAINING_KEYS}
    out["model"] = averaged
    out["averaged_from"] = [{"path": str(p), "step": s.get("step"), "cer": s.get("metrics", {}).get("cer")}
                            for p, s in zip(paths, states)]
    return out


def half_precision_weights(state: Dict[str, Any]) -> Dict[str, Any]:
    """``state`` with its float32/float64 ``model`` tensors stored as float16 (other entries as is).

    ``load_state_dict`` copies them into the model's float32 parameters, so a model built from the
    result computes in float32 with weights rounded to 11 significant bits. Values outside
    float16's range would become inf, so such a checkpoint is refused.
    """
    halved = {}
    for k, v in state["model"].items():
        if v.dtype in (torch.float32, torch.float64):
            h = v.to(torch.float16)
            if not torch.isfinite(h).all() and torch.isfinite(v).all():
                raise CheckpointError(f"weight {k!r} exceeds float16's range (|x| > 65504); keep it in float32")
            v = h
        halved[k] = v
    return {**state, "model": halved, "weights_dtype": "float16"}
