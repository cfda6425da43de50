"""Compose a run's configuration.

Priority, lowest first: dataclass defaults < ``--arch`` preset < ``--task``/``--arch`` names <
YAML files (``-c a.yaml -c b.yaml``, in order) < ``key=value`` overrides. A group's schema is
chosen by its ``name`` (``model.name=jasper`` -> ``JasperConfig``), then every source is merged
into that schema in OmegaConf struct mode, so a typo fails with the source, the key and the
nearest valid key, and wrong types fail with the expected type. All missing (``???``) values are
reported together before any heavy work starts.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from hypersp.config.schema import Config


class ConfigError(ValueError):
    """A configuration problem, described in one line with the source and the fix."""


def _load_yaml(path: str) -> DictConfig:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {path!r} does not exist")
    try:
        cfg = OmegaConf.load(p)
    except Exception as err:  # yaml.YAMLError and friends
        raise ConfigError(f"config file {path!r} is not valid YAML: {err}".replace("\n", " ")) from err
    if not isinstance(cfg, DictConfig):
        raise ConfigError(f"config file {path!r} must hold a mapping of groups (task:, model:, ...), not a list")
    return cfg


def _parse_override(item: str) -> DictConfig:
    if "=" not in item or item.startswith("="):
        raise ConfigError(f"override {item!r} is not key=value (example: optim.lr=0.001)")
    try:
        return OmegaConf.from_dotlist([item])
    except Exception as err:
        raise ConfigError(f"override {item!r} could not be parsed: {err}".replace("\n", " ")) from err


def _preset_source(arch: str) -> Tuple[str, DictConfig]:
    from hypersp.models.presets import list_presets

    presets = list_presets()
    if arch in presets:
        return f"preset {arch!r} ({presets[arch]})", OmegaConf.create({"model": OmegaConf.load(presets[arch])})
    from hypersp.registry import MODELS

    if arch in MODELS:
        return f"--arch {arch}", OmegaConf.create({"model": {"name": arch}})
    choices = sorted(set(presets) | set(MODELS.names()))
    close = difflib.get_close_matches(arch, choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ConfigError(f"--arch {arch!r} is neither a preset nor a registered model.{hint} Choices: {', '.join(choices)}")


def _group_name(raw: DictConfig, group: str) -> Optional[str]:
    node = raw.get(group)
    if isinstance(node, DictConfig) and node.get("name") is not None:
        return str(node.get("name"))
    return None


def _schema(raw: DictConfig) -> DictConfig:
    """Structured defaults with each group's dataclass picked by its ``name``."""
    from hypersp.registry import CRITERIONS, MODELS, TASKS, TOKENIZERS

    task_name = _group_name(raw, "task") or "speech_recognition"
    task_cls = TASKS.get(task_name)
    model_name = _group_name(raw, "model") or "jasper"
    tokenizer_name = _group_name(raw, "tokenizer") or getattr(task_cls, "default_tokenizer", "char")
    model_cls = MODELS.get(model_name)
    criterion_name = _group_name(raw, "criterion") or getattr(model_cls, "default_criterion", "ctc")

    def defaults(registry, name):
        config_cls = registry.config_class(name)
        if config_cls is None:
            return OmegaConf.create({"name": name})
        node = OmegaConf.structured(config_cls)
        node.name = name
        return node

    base = OmegaConf.structured(Config)
    base.task = defaults(TASKS, task_name)
    base.model = defaults(MODELS, model_name)
    base.tokenizer = defaults(TOKENIZERS, tokenizer_name)
    base.criterion = defaults(CRITERIONS, criterion_name)
    OmegaConf.set_struct(base, True)
    return base


def _explain(err: OmegaConfBaseException, schema: DictConfig, label: str) -> ConfigError:
    full_key = getattr(err, "full_key", None) or ""
    if isinstance(err, (ConfigKeyError, ConfigAttributeError)):
        parent_path, _, key = full_key.rpartition(".")
        parent = OmegaConf.select(schema, parent_path) if parent_path else schema
        known = list(parent.keys()) if isinstance(parent, DictConfig) else []
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean '{(parent_path + '.') if parent_path else ''}{close[0]}'?" if close else ""
        return ConfigError(
            f"{label}: unknown key '{full_key}'{hint} Valid keys here: {', '.join(known) or '(none)'}"
        )
    msg = str(err).split("\n")[0]
    return ConfigError(f"{label}: bad value for '{full_key}': {msg}")


def compose(
    config_files: Sequence[str] = (),
    overrides: Sequence[str] = (),
    task: Optional[str] = None,
    arch: Optional[str] = None,
    base: Optional[Dict[str, Any]] = None,
) -> DictConfig:
    """Return the resolved, struct-mode config.

    ``base`` (lowest priority after defaults) is a plain dict such as the config stored in a
    checkpoint. Raises ``ConfigError`` with a one-line message on any problem.
    """
    sources: List[Tuple[str, DictConfig]] = []
    if base is not None:
        sources.append(("checkpoint config", OmegaConf.create(base)))
    if arch:
        sources.append(_preset_source(arch))
    if task:
        sources.append((f"--task {task}", OmegaConf.create({"task": {"name": task}})))
    sources += [(f"config file {f!r}", _load_yaml(f)) for f in config_files]
    sources += [(f"override {o!r}", _parse_override(o)) for o in overrides]

    raw = OmegaConf.merge(*[s for _, s in sources]) if sources else OmegaConf.create()
    plugins = raw.get("plugins") or []
    if plugins:
        from hypersp.plugins import load_plugins

        load_plugins([str(p) for p in plugins])

    from hypersp.registry import RegistryError

    try:
        cfg = _schema(raw)
    except RegistryError as err:
        raise ConfigError(str(err)) from None
    for label, src in sources:
        try:
            cfg = OmegaConf.merge(cfg, src)
        except OmegaConfBaseException as err:
            raise _explain(err, cfg, label) from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise ConfigError(f"missing required values: {', '.join(missing)} (set them as key=value or in a config file)")
    return cfg


def require(cfg: DictConfig, keys: Sequence[str], purpose: str) -> None:
    """Fail with every unset key at once (``""`` or ``???``), before heavy work starts."""
    unset = [k for k in keys if OmegaConf.select(cfg, k, default="") in ("", None) or OmegaConf.is_missing(cfg, k)]
    if unset:
        raise ConfigError(f"{purpose} needs {', '.join(unset)}: set them as key=value (e.g. {unset[0]}=...) or in a config file")


def config_from_dict(data: Dict[str, Any], overrides: Iterable[str] = ()) -> DictConfig:
    """Rebuild a struct config from a plain dict (e.g. the one saved in a checkpoint)."""
    return compose(base=data, overrides=list(overrides))


def to_yaml(cfg: DictConfig) -> str:
    return OmegaConf.to_yaml(cfg, resolve=True)
