"""Building a run's components, in one linear order.

tokenizer -> task -> model -> criterion. Each object receives only its own sub-config plus
explicit dependencies; derived sizes (``input_dim``, ``vocab_size``) come from the task.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict

import torch
from omegaconf import DictConfig, OmegaConf

from hypersp import __version__
from hypersp.plugins import PluginError, load_plugins, provenance, required_modules
from hypersp.registry import CRITERIONS, MODELS, TASKS, TOKENIZERS


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
    return MODELS.build(cfg.model, input_dim=task.input_dim, vocab_size=task.vocab_size)


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

    modules = required_modules(state.get("provenance", {}))
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
