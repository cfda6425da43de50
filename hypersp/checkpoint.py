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

Integrity: :func:`save_checkpoint` records ``"integrity": {"algorithm": ..., "sha256": ...}``, a
SHA-256 over every tensor (key path, dtype, shape, bytes) and plain value of the checkpoint in
sorted key order (:func:`content_hash`); :func:`load_checkpoint` recomputes it and refuses a file
whose content differs (``CheckpointError``: "FILE is damaged: ..."), as it refuses one that cannot
be unpickled ("FILE is damaged or not a hypersp checkpoint: ..."). A checkpoint saved before the
hash existed loads with a logged warning (re-save it to add one: :func:`add_content_hash`).

Shipped models (``hypersp/pretrained/NAME.pt``) may have defaults in sidecars (:func:`shipped_sidecar`):
``NAME.decoding.yaml`` (DecodingConfig fields; :func:`shipped_decoding`) and ``NAME.streaming.yaml``
(StreamingConfig fields), which the engine (``Recognizer.from_checkpoint``: ``hypersp.load``, hypersp-eval,
-transcribe, -serve) puts over the checkpoint's own ``decoding`` / ``streaming`` group, below config files,
overrides and decoding arguments. An ``lm_path`` there is relative to ``hypersp/pretrained/``. Only the files
in that folder have sidecars:
a checkpoint anywhere else (a user's model, a copy, a fine-tuned demo model) decodes as its own
config says.
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

import torch
from omegaconf import DictConfig, OmegaConf

from hypersp import __version__
from hypersp.plugins import PluginError, check_checkpoint_modules, load_plugins, provenance
from hypersp.prepare.atomic import fsync_dir  # the same durable-rename step as every prepared file
from hypersp.registry import CRITERIONS, MODELS, TASKS, TOKENIZERS

SHIPPED_DIR = Path(__file__).resolve().parent / "pretrained"
INTEGRITY_KEY = "integrity"
HASH_ALGORITHM = "hypersp-content-sha256-v1"

log = logging.getLogger(__name__)
_warned_unhashed: set = set()


class CheckpointError(ValueError):
    pass


def shipped_models() -> Dict[str, Path]:
    """Models shipped inside the package, by name (``demo_ko_16k`` -> path)."""
    if not SHIPPED_DIR.is_dir():
        return {}
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.pt"))}


def shipped_sidecar(name_or_path: str | Path, group: str) -> Path | None:
    """A shipped model's ``NAME.GROUP.yaml`` (see the module docstring), or None for any other checkpoint or a
    shipped model without that sidecar."""
    try:
        path = resolve_checkpoint(str(name_or_path)).resolve()
    except CheckpointError:
        return None
    sidecar = path.with_name(f"{path.stem}.{group}.yaml")
    return sidecar if path.parent == SHIPPED_DIR.resolve() and sidecar.is_file() else None


def shipped_defaults(name_or_path: str | Path, group: str) -> Dict[str, Any]:
    """A shipped model's default fields for config ``group`` (``decoding`` or ``streaming``) from its sidecar;
    ``{}`` for any other checkpoint or a shipped model without that sidecar."""
    sidecar = shipped_sidecar(name_or_path, group)
    if sidecar is None:
        return {}
    fields = OmegaConf.to_container(OmegaConf.load(sidecar), resolve=True) or {}
    if not isinstance(fields, dict):
        raise CheckpointError(f"{sidecar}: expected a mapping of {group} fields")
    return fields


def shipped_decoding(name_or_path: str | Path) -> Dict[str, Any]:
    """The default decoding fields of a shipped model (``NAME.decoding.yaml``), with ``lm_path`` made absolute."""
    fields = shipped_defaults(name_or_path, "decoding")
    if fields.get("lm_path"):
        lm = SHIPPED_DIR / str(fields["lm_path"])
        if not lm.is_file():
            raise CheckpointError(f"{shipped_sidecar(name_or_path, 'decoding')}: its language model {lm} is missing "
                                  "(a broken installation?); decode without it with --decoding greedy or --lm ''")
        fields["lm_path"] = str(lm.resolve())
    return fields


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


def _tensor_bytes(t: torch.Tensor):
    t = t.detach().cpu().contiguous().reshape(-1)
    try:
        return t.view(torch.uint8).numpy()
    except (RuntimeError, TypeError):  # dtypes numpy or view() cannot take: hash the values
        return repr(t.tolist()).encode()


def content_hash(state: Dict[str, Any]) -> str:
    """SHA-256 (hex) over the checkpoint's content, its ``integrity`` entry aside: every tensor as
    key path, dtype, shape and raw bytes, and every plain value (str, number, bool, None, numpy array)
    by its path and value, dicts in sorted key order. Equal for a state before ``torch.save`` and after
    ``torch.load``; any changed tensor byte or value changes it."""
    import numpy as np

    h = hashlib.sha256()

    def visit(path: str, obj: Any) -> None:
        if isinstance(obj, torch.Tensor):
            h.update(f"T{path}\0{obj.dtype}\0{tuple(obj.shape)}\0".encode())
            if obj.numel():
                h.update(_tensor_bytes(obj))
        elif isinstance(obj, dict):
            keys = sorted((k for k in obj if not (path == "" and k == INTEGRITY_KEY)),
                          key=lambda k: (type(k).__name__, str(k)))
            h.update(f"D{path}\0{len(keys)}\0".encode())
            for k in keys:
                visit(f"{path}/{k!r}", obj[k])
        elif isinstance(obj, (list, tuple)):
            h.update(f"L{path}\0{len(obj)}\0".encode())
            for i, v in enumerate(obj):
                visit(f"{path}/{i}", v)
        elif isinstance(obj, np.ndarray):
            h.update(f"A{path}\0{obj.dtype}\0{obj.shape}\0".encode())
            h.update(np.ascontiguousarray(obj).tobytes())
        elif obj is None or isinstance(obj, (str, bytes, bool, int, float, np.generic)):
            h.update(f"V{path}\0{type(obj).__name__}\0{obj!r}\0".encode())
        else:  # a type whose repr may not survive a round trip: its name only
            h.update(f"O{path}\0{type(obj).__name__}\0".encode())

    visit("", state)
    return h.hexdigest()


def save_checkpoint(state: Dict[str, Any], path: str | Path) -> None:
    """Write ``state`` plus its ``integrity`` entry (:func:`content_hash`) to a temporary file in the same
    folder, fsync, then rename over ``path``.

    A crash at any instant leaves either the old file or the new one, never a partial file.
    ``state`` itself is not modified.
    """
    path = Path(path)
    state = {k: v for k, v in state.items() if k != INTEGRITY_KEY}
    state[INTEGRITY_KEY] = {"algorithm": HASH_ALGORITHM, "sha256": content_hash(state)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)  # the mode a plain open() gives, not mkstemp's 0600
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:300]}" if text else type(err).__name__


def verify_content_hash(state: Dict[str, Any], path: str | Path) -> bool:
    """Check ``state`` against its recorded content hash. True: verified; False: no hash recorded (legacy
    file; a warning is logged once per file). Raises CheckpointError naming ``path`` on a mismatch."""
    record = state.get(INTEGRITY_KEY)
    if not isinstance(record, dict) or record.get("algorithm") != HASH_ALGORITHM or "sha256" not in record:
        if record is not None and isinstance(record, dict) and "algorithm" in record:
            why = f"its content hash uses algorithm {record.get('algorithm')!r}, unknown to this hypersp"
        else:
            why = "it has no content hash (saved before hypersp recorded one)"
        if str(path) not in _warned_unhashed:
            _warned_unhashed.add(str(path))
            log.warning("%s: %s, so its integrity cannot be checked; re-save it to add one: "
                        "python -c \"from hypersp.checkpoint import add_content_hash; add_content_hash('%s')\"",
                        path, why, path)
        return False
    actual = content_hash(state)
    if actual != record["sha256"]:
        raise CheckpointError(f"{path} is damaged: its content does not match the hash recorded when it was saved "
                              f"(sha256 {actual[:16]}... != {str(record['sha256'])[:16]}...); "
                              "replace it with an intact copy")
    return True


def load_checkpoint(name_or_path: str | Path, map_location: str | torch.device = "cpu") -> Dict[str, Any]:
    """Load a checkpoint (a file path or a shipped model name) as data and verify its content hash."""
    path = resolve_checkpoint(str(name_or_path))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # zip, pickle or storage errors: damaged, truncated or not a checkpoint
        raise CheckpointError(f"{path} is damaged or not a hypersp checkpoint: {_one_line(err)}") from err
    if not isinstance(state, dict) or "config" not in state or "model" not in state:
        raise CheckpointError(f"{path} is damaged or not a hypersp checkpoint: no 'config'/'model' entries")
    verify_content_hash(state, path)
    return state


def add_content_hash(path: str | Path) -> bool:
    """Re-save a checkpoint file saved without a content hash, with one; its tensors and values are unchanged.
    Returns False (and writes nothing) when it already has a valid hash."""
    path = Path(path)
    state = load_checkpoint(path)
    record = state.get(INTEGRITY_KEY)
    if isinstance(record, dict) and record.get("algorithm") == HASH_ALGORITHM:
        return False
    save_checkpoint(state, path)
    return True

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
    load_weights(model, state["model"], cfg, overrides=list(overrides) + [str(f) for f in config_files])
    model.to(device).eval()
    return Components(cfg, tokenizer, task, model)


def load_weights(model: torch.nn.Module, weights: Dict[str, Any], cfg: DictConfig, overrides=()) -> None:
    """``model.load_state_dict(weights)`` (strict); weights that do not fit the model the config builds
    (other shapes, missing or extra names) raise a one-line CheckpointError instead of torch's report."""
    expected = model.state_dict()
    wrong = [f"{k}: {tuple(v.shape)} in the checkpoint, {tuple(expected[k].shape)} in the model"
             for k, v in weights.items()
             if k in expected and hasattr(v, "shape") and tuple(v.shape) != tuple(expected[k].shape)]
    missing = [k for k in expected if k not in weights]
    extra = [k for k in weights if k not in expected]

    def listed(names, sep=", "):
        return sep.join(names[:3]) + (f"{sep}..." if len(names) > 3 else "")

    problems = []
    if wrong:
        problems.append(f"{len(wrong)} tensor(s) of another shape ({listed(wrong, '; ')})")
    if missing:
        problems.append(f"{len(missing)} the model needs are missing ({listed(missing)})")
    if extra:
        problems.append(f"{len(extra)} the model does not have ({listed(extra)})")
    if not problems:
        try:
            model.load_state_dict(weights)
            return
        except RuntimeError as err:
            problems.append(_one_line(err))
    given = f" with {' '.join(overrides)}" if overrides else ""
    raise CheckpointError(f"the checkpoint's weights do not fit the model its config builds "
                          f"(model {cfg.model.get('name', '?')}{given}): " + "; ".join(problems))
