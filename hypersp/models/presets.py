"""Model presets: YAML files of ``model:`` group fields in ``hypersp/models/<family>/presets/``.

A preset is a mapping that merges onto the model's config dataclass, e.g.::

    cfg = OmegaConf.merge(OmegaConf.structured(JasperConfig), load_preset("quartznet15x5"))

Its ``name`` key says which registered model it configures. Preset names (file stems) are
unique across families: ``jasper10x5dr``, ``quartznet15x5``, ...

A plugin ships presets the same way: a ``presets/`` folder beside the module that registers its model
(declared as package data). ``--arch`` finds them and ``--list`` shows them with their distribution.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict

MODELS_DIR = Path(__file__).resolve().parent


def plugin_preset_dirs() -> Dict[Path, str]:
    """``presets/`` folders beside the modules of plugin models -> the distribution that ships them."""
    import sys

    from hypersp.registry import MODELS

    dirs: Dict[Path, str] = {}
    for entry in MODELS.entries():
        module = sys.modules.get(entry.module)
        origin = getattr(module, "__file__", None)
        if entry.module.split(".")[0] == "hypersp" or not origin:
            continue
        folder = Path(origin).resolve().parent / "presets"
        if folder.is_dir():
            dirs[folder] = entry.distribution
    return dirs


def preset_distribution(path: Path) -> str:
    """The distribution a preset file comes from ('hypersp' for built-ins)."""
    return plugin_preset_dirs().get(Path(path).resolve().parent, "hypersp")


def list_presets() -> Dict[str, Path]:
    """Preset name -> YAML path, for every ``hypersp/models/*/presets/*.yaml`` and every plugin model's
    ``presets/*.yaml`` (sorted by name)."""
    found: Dict[str, Path] = {}
    paths = sorted(MODELS_DIR.glob("*/presets/*.yaml"))
    for folder in plugin_preset_dirs():
        paths += sorted(folder.glob("*.yaml"))
    for path in paths:
        other = found.get(path.stem)
        if other is not None:
            raise RuntimeError(f"model preset name {path.stem!r} is defined twice: {other} and {path}; rename one")
        found[path.stem] = path
    return dict(sorted(found.items()))


def preset_path(name: str) -> Path:
    """Path of the preset called ``name`` (file stem, ``.yaml`` optional); KeyError lists the choices."""
    presets = list_presets()
    stem = name[:-5] if name.endswith(".yaml") else name
    try:
        return presets[stem]
    except KeyError:
        raise KeyError(f"unknown model preset {name!r}; known presets: {', '.join(presets) or 'none'}") from None


def load_preset(name: str) -> dict:
    """The preset's fields as a plain dict (``name`` plus the model's config fields)."""
    from omegaconf import OmegaConf

    path = preset_path(name)
    data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(data, dict) or "name" not in data:
        raise ValueError(f"{path}: a model preset must be a mapping with a 'name' key (the registered model)")
    return data
