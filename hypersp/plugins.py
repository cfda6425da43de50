"""Finding and loading components: hypersp's built-ins, then third-party plugins.

Built-ins are imported from the explicit list ``BUILTIN_MODULES``. Third-party packages
declare an entry point in the group ``hypersp.plugins`` whose value is a module; importing
that module runs its ``@register_*`` decorators::

    # a plugin's setup.py
    entry_points={"hypersp.plugins": ["tiny_lstm = hypersp_tiny_lstm"]}

``HYPERSP_DISABLE_PLUGIN_AUTOLOAD=1`` skips entry points (built-ins still load);
``load_plugin("my.module")`` (``--plugin MODULE`` / ``plugins: [...]`` in a config) imports a
module explicitly. Every process that looks a component up calls ``load_all`` first, through
the registry, so DataLoader workers and distributed ranks see the same components.
hypersp never edits ``sys.path``.
"""
from __future__ import annotations

import importlib
import logging
import os
from importlib.metadata import entry_points
from typing import Dict, Iterable, List

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "hypersp.plugins"
AUTOLOAD_ENV = "HYPERSP_DISABLE_PLUGIN_AUTOLOAD"

BUILTIN_MODULES = (
    "hypersp.tokenizers.char",
    "hypersp.tokenizers.jamo",
    "hypersp.tokenizers.english",
    "hypersp.tokenizers.sentencepiece",
    "hypersp.models.jasper.model",
    "hypersp.models.rnn.model",
    "hypersp.models.conformer.model",
    "hypersp.models.transformer.model",
    "hypersp.criterions.ctc",
    "hypersp.criterions.hybrid",
    "hypersp.data.dataset",
    "hypersp.tasks.speech_recognition",
    "hypersp.tasks.synthetic",
    "hypersp.tasks.corpora",
    "hypersp.decoding.greedy",
    "hypersp.decoding.ctc_beam",
    "hypersp.decoding.attention_beam",
    "hypersp.inference.vads",
    "hypersp.serve.apps",
)

_builtins_loaded = False
UNAVAILABLE_BUILTINS: Dict[str, str] = {}  # module -> why it could not be imported (no torch installed)
_loaded_plugins: Dict[str, str] = {}  # module -> how it was loaded ("entry point NAME (DIST)" or "--plugin")


class PluginError(ImportError):
    pass


def _import_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            # An ONNX-only install (numpy + onnxruntime, no torch) still gets every torch-free component
            # (tokenizers, decoders); the model families simply are not registered there.
            if (err.name or "").split(".")[0] != "torch":
                raise
            UNAVAILABLE_BUILTINS[module] = "PyTorch is not installed"


def autoload_enabled() -> bool:
    return os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes", "on")


def _discover_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in _loaded_plugins:
            continue
        dist = ep.dist.name if ep.dist is not None else "?"
        try:
            ep.load()
        except ModuleNotFoundError as err:
            if (err.name or "").split(".")[0] != "torch":
                raise PluginError(f"plugin entry point {ep.name!r} = {ep.value!r} from distribution {dist!r} failed to "
                                  f"import: {err}. Fix or uninstall it, or set {AUTOLOAD_ENV}=1 to skip plugins.") from err
            UNAVAILABLE_BUILTINS[ep.value] = "PyTorch is not installed"  # as for torch-based built-ins
            _loaded_plugins[ep.value] = f"unavailable: entry point {ep.name} ({dist}) needs PyTorch"
            continue
        except Exception as err:
            raise PluginError(
                f"plugin entry point {ep.name!r} = {ep.value!r} from distribution {dist!r} failed to import: "
                f"{type(err).__name__}: {err}. Fix or uninstall it, or set {AUTOLOAD_ENV}=1 to skip plugins."
            ) from err
        _loaded_plugins[ep.value] = f"entry point {ep.name} ({dist})"


def load_all() -> None:
    """Import built-ins, then (unless switched off) every ``hypersp.plugins`` entry point."""
    _import_builtins()
    if autoload_enabled():
        _discover_entry_points()


def load_plugin(module: str) -> None:
    """Import one plugin module by name (``--plugin MODULE``)."""
    _import_builtins()
    if module in _loaded_plugins:
        return
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        raise PluginError(
            f"--plugin {module!r}: no module named {err.name!r}. Install the package that provides it "
            f"(pip install ...) so that it is importable; hypersp does not edit sys.path."
        ) from err
    _loaded_plugins[module] = "--plugin"


def load_plugins(modules: Iterable[str]) -> None:
    for m in modules:
        load_plugin(m)


def loaded_plugins() -> Dict[str, str]:
    return dict(_loaded_plugins)


def provenance(components: Dict[str, tuple]) -> Dict[str, Dict[str, str]]:
    """For ``{"model": (MODELS, "jasper"), ...}`` return who provided each component.

    Saved in checkpoints, so a missing plugin can be named when the checkpoint is loaded.
    """
    out = {}
    for key, (registry, name) in components.items():
        e = registry.entry(name)
        out[key] = {"name": name, "module": e.module, "distribution": e.distribution}
    return out


def required_modules(prov: Dict[str, Dict[str, str]]) -> List[str]:
    """Plugin modules a checkpoint needs that are not part of hypersp."""
    return sorted({p["module"] for p in prov.values() if not p["module"].startswith("hypersp.")})
