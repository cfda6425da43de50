"""Checkpoints and the components they rebuild (a core module: train, inference, export and serve use it;
it imports none of them).

Build order, one linear function each: tokenizer -> task -> model -> criterion. Each object receives only
its own sub-config plus explicit dependencies; derived sizes (``input_dim``, ``vocab_size``) come from the task.

Checkpoints: data only, written atomically, enough to rebuild the model alone.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

import torch
from omegaconf import DictConfig, OmegaConf

from hypersp import __version__
from hypersp.plugins import PluginError, check_checkpoint_modules, load_plugins, provenance
from hypersp.registry import CRITERIONS, MODELS, TASKS, TOKENIZERS

SHIPPED_DIR = Path(__file__).resolve().parent / "pretrained"


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

@dataclass
class Components:
    cfg: DictConfig
    tokenizer: Any
    task: Any
    model: torch.nn.Module
    criterion: Any = None


def build_tokenizer_and_task(cfg: DictConfig):
    tokenizer = TOKENIZERS.build(cfg.tokenizer)
    task = TASKS.build(cfg.task, tokenizer=tokenizer)
    return tokenizer, task


def build_model(cfg: DictConfig, task) -> torch.nn.Module:
    from hypersp.models.base import check_model

    model = MODELS.build(cfg.model, input_dim=task.input_dim, vocab_size=task.vocab_size)
    return check_model(model, cfg.model.name)


def build_criterion(cfg: DictConfig, task):
    return CRITERIONS.build(cfg.criterion, blank_id=0, vocab_size=task.vocab_size)


def component_provenance(cfg: DictConfig) -> Dict[str, Dict[str, str]]:
    return provenance(
        {
            "task": (TASKS, cfg.task.name),
            "model": (MODELS, cfg.model.name),
            "tokenizer": (TOKENIZERS, cfg.tokenizer.name),
            "criterion": (CRITERIONS, cfg.criterion.name),
        }
    )


def checkpoint_header(cfg: DictConfig, tokenizer) -> Dict[str, Any]:
    """The part of every checkpoint that lets eval/serve/export rebuild the model alone."""
    return {
        "format": 1,
        "hypersp_version": __version__,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "provenance": component_provenance(cfg),
        "tokenizer": tokenizer.state_dict(),
    }


def build_from_checkpoint(state: Dict[str, Any], overrides=(), device: str | torch.device = "cpu",
                          config_files=()) -> Components:
    """Rebuild tokenizer, task and model (weights loaded, eval mode) from a checkpoint dict; ``config_files``
    (YAML) and ``overrides`` (``key=value``) are applied over the checkpoint's config, in that order."""
    from hypersp.config import compose

    modules = check_checkpoint_modules(state.get("provenance", {}))
    try:
        load_plugins(modules)
    except PluginError as err:
        prov = {k: v for k, v in state.get("provenance", {}).items() if v["module"] in modules}
        dists = ", ".join(sorted({v["distribution"] for v in prov.values()}))
        raise PluginError(f"this checkpoint needs plugin module(s) {', '.join(modules)} from distribution(s) {dists}: {err}") from err
    cfg = compose(base=state["config"], config_files=list(config_files), overrides=list(overrides))
    tokenizer = TOKENIZERS.build(cfg.tokenizer)
    tokenizer.load_state_dict(state["tokenizer"])
    task = TASKS.build(cfg.task, tokenizer=tokenizer)
    model = build_model(cfg, task)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    return Components(cfg, tokenizer, task, model)
