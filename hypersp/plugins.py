"""Finding and loading components: hypersp's built-ins, then third-party plugins.

Built-ins are discovered: every module under ``COMPONENT_PACKAGES`` that registers a component is
imported (a module needing PyTorch is skipped where torch is not installed). Third-party packages
declare an entry point in the group ``hypersp.plugins`` whose value is a module; importing
that module runs its ``@register_*`` decorators::

    # a plugin's setup.py
    entry_points={"hypersp.plugins": ["tiny_lstm = hypersp_tiny_lstm"]}

A plugin whose import fails is reported in one line (a warning) and left out: commands that do not
need it work, and a lookup of one of its components names it (``BROKEN_PLUGINS``).
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

# Where built-in components live. Every module under these packages whose source registers something
# (``@register_...``) is imported: a new model family is a new folder under hypersp/models/ and nothing
# else changes.
COMPONENT_PACKAGES = ("hypersp.text", "hypersp.tokenizers", "hypersp.models", "hypersp.criterions", "hypersp.data", "hypersp.tasks",
                      "hypersp.decoding", "hypersp.inference", "hypersp.serve")
_REGISTERS = "@register_"

_builtins_loaded = False
UNAVAILABLE_BUILTINS: Dict[str, str] = {}  # module -> why it could not be imported (no torch installed)
BROKEN_PLUGINS: Dict[str, str] = {}  # entry point module -> the one-line reason it was left out
_builtin_modules: List[str] = []


def builtin_modules() -> List[str]:
    """The built-in modules that register components, found under ``COMPONENT_PACKAGES`` (sorted)."""
    if _builtin_modules:
        return list(_builtin_modules)
    import pkgutil
    from importlib.util import find_spec

    found = []
    for package in COMPONENT_PACKAGES:
        spec = find_spec(package)
        for info in pkgutil.walk_packages(spec.submodule_search_locations, prefix=package + "."):
            origin = find_spec(info.name).origin if not info.ispkg else \
                os.path.join(info.module_finder.path, info.name.rsplit(".", 1)[-1], "__init__.py")
            try:
                with open(origin, encoding="utf-8") as f:
                    if _REGISTERS in f.read():
                        found.append(info.name)
            except OSError:
                continue
    _builtin_modules.extend(sorted(found))
    return list(_builtin_modules)
_loaded_plugins: Dict[str, str] = {}  # module -> how it was loaded ("entry point NAME (DIST)" or "--plugin")


class PluginError(ImportError):
    pass


def _import_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in builtin_modules():
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
        if ep.value in BROKEN_PLUGINS:
            continue
        try:
            ep.load()
        except Exception as err:  # a broken plugin is left out; everything that does not need it keeps working
            first = str(err).splitlines()[0] if str(err) else ""
            BROKEN_PLUGINS[ep.value] = (f"plugin entry point {ep.name!r} = {ep.value!r} from distribution {dist!r} "
                                        f"failed to import ({type(err).__name__}: {first}); its components are "
                                        f"unavailable. Fix or uninstall it, or set {AUTOLOAD_ENV}=1.")
            log.warning("%s", BROKEN_PLUGINS[ep.value])
            continue
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



def provenance(components: Dict[str, tuple]) -> Dict[str, Dict[str, str]]:
    """For ``{"model": (MODELS, "jasper"), ...}`` return who provided each component.

    Saved in checkpoints, so a missing plugin can be named when the checkpoint is loaded.
    """
    out = {}
    for key, (registry, name) in components.items():
        e = registry.entry(name)
        out[key] = {"name": name, "module": e.module, "distribution": e.distribution,
                    "version": _version_of(e.distribution)}
    return out


def _version_of(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return ""


def plugin_modules() -> Dict[str, str]:
    """Module -> distribution for every installed ``hypersp.plugins`` entry point."""
    return {ep.value: (ep.dist.name if ep.dist is not None else "?") for ep in entry_points(group=ENTRY_POINT_GROUP)}


def check_checkpoint_modules(prov: Dict[str, Dict[str, str]]) -> List[str]:
    """The plugin modules a checkpoint needs, each checked against the installed entry points: a checkpoint
    may only make hypersp import a module that an installed distribution declares as a hypersp plugin (or a
    submodule of one), never an arbitrary module named in the file."""
    installed = plugin_modules()
    needed = required_modules(prov)
    for module in needed:
        if not any(module == m or module.startswith(m + ".") for m in installed):
            who = {p.get("distribution", "?") for p in prov.values() if p.get("module") == module}
            raise PluginError(f"this checkpoint needs module {module!r} from distribution {', '.join(sorted(who))}, "
                              f"which is not an installed hypersp plugin (installed: "
                              f"{', '.join(sorted(set(installed.values()))) or 'none'}); install that distribution")
    return needed


def required_modules(prov: Dict[str, Dict[str, str]]) -> List[str]:
    """Plugin modules a checkpoint needs that are not part of hypersp."""
    return sorted({p["module"] for p in prov.values() if not p["module"].startswith("hypersp.")})
