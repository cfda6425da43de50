"""The JSON sidecar of an exported model, read without torch.

An export ``FILE`` (``.onnx`` or TorchScript) has its description beside it in ``FILE.json``
(:func:`sidecar_path`; written by ``hypersp.export.export.build_sidecar``): sample rate, feature
config, subsampling factor, vocabulary size and the tokenizer's config and state. This module
reads it and rebuilds what a recognizer needs from it (:func:`feature_config`,
:func:`build_tokenizer`) with the standard library and hypersp's own torch-free modules: **no
torch and no omegaconf**, so an ONNX deployment (``hypersp.inference.backends.OnnxBackend``) runs without them.

Tokenizer classes are found without the registry's full load (which imports every built-in
module, torch models included): the module recorded in the sidecar (``tokenizer.module``, written
since this file exists), else ``hypersp.tokenizers.<name>``, else hypersp's built-in tokenizer
modules; only a name none of these registers falls back to the registry (plugins).

Integrity: the sidecar's ``integrity`` entry holds the SHA-256 of the model file and of the
sidecar's own content (canonical JSON, that entry aside), written by ``hypersp-export``;
:func:`verify_export` checks both when a backend opens the export, and refuses a damaged file
in one line naming it. An export written before the hash existed opens with a logged warning.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import logging
from dataclasses import fields, is_dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, Optional

SIDECAR_FORMAT = "hypersp-export"
SIDECAR_VERSION = 1
FORMATS = ("onnx", "torchscript")
INTEGRITY_KEY = "integrity"
HASH_ALGORITHM = "sha256"

log = logging.getLogger(__name__)
_warned_unhashed: set = set()


class ExportError(ValueError):
    """An export that cannot be done as asked (unknown format, bad file, unsupported model)."""


def sidecar_path(model_file: str | Path) -> Path:
    """``model.onnx`` -> ``model.onnx.json`` (appended, so an .onnx and a .pt export never share one)."""
    p = Path(model_file)
    return p.with_name(p.name + ".json")


def load_sidecar(model_file: str | Path) -> Dict[str, Any]:
    """Read ``model_file``'s sidecar (``model_file.json``; a path ending in ``.json`` is read as is)."""
    p = Path(model_file)
    side = p if p.suffix == ".json" else sidecar_path(p)
    if not side.is_file():
        raise ExportError(f"{side}: sidecar not found; it is written by hypersp-export next to the model file "
                          f"(re-export with hypersp-export --checkpoint CKPT --format onnx --out {p})")
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ExportError(f"{side}: not valid JSON ({err})") from err
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
        raise ExportError(f"{side}: not a hypersp export sidecar (no \"format\": \"{SIDECAR_FORMAT}\")")
    if int(meta.get("version", 0)) > SIDECAR_VERSION:
        raise ExportError(f"{side}: sidecar version {meta.get('version')} is newer than this hypersp reads "
                          f"({SIDECAR_VERSION}); upgrade hypersp")
    return meta


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sidecar_sha256(meta: Dict[str, Any]) -> str:
    """SHA-256 of the sidecar's content without its ``integrity`` entry (canonical JSON: sorted keys)."""
    body = {k: v for k, v in meta.items() if k != INTEGRITY_KEY}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
                          .encode("utf-8")).hexdigest()


def integrity_record(model_file: str | Path, meta: Dict[str, Any]) -> Dict[str, str]:
    """The ``integrity`` entry of a sidecar for ``model_file`` (written by the exporter)."""
    return {"algorithm": HASH_ALGORITHM, "model_sha256": file_sha256(model_file), "sidecar_sha256": sidecar_sha256(meta)}


def verify_export(model_file: str | Path, meta: Dict[str, Any]) -> bool:
    """Check ``model_file`` and its sidecar ``meta`` against the hashes recorded at export. True: verified;
    False: none recorded (an older export; a warning is logged once per file). Raises ExportError naming the
    damaged file."""
    record = meta.get(INTEGRITY_KEY)
    side = sidecar_path(model_file)
    if not isinstance(record, dict) or record.get("algorithm") != HASH_ALGORITHM:
        if str(model_file) not in _warned_unhashed:
            _warned_unhashed.add(str(model_file))
            log.warning("%s: its sidecar records no content hash (exported before hypersp recorded one), so its "
                        "integrity cannot be checked; re-export it with hypersp-export to add one", model_file)
        return False
    if sidecar_sha256(meta) != record.get("sidecar_sha256"):
        raise ExportError(f"{side} is damaged: its content does not match the hash recorded at export; "
                          "re-export the model with hypersp-export")
    actual = file_sha256(model_file)
    if actual != record.get("model_sha256"):
        raise ExportError(f"{model_file} is damaged: its sha256 {actual[:16]}... is not the "
                          f"{str(record.get('model_sha256'))[:16]}... recorded in {side.name} at export; "
                          "replace it with an intact copy or re-export it")
    return True


def feature_config(meta: Dict[str, Any]):
    """The ``FeatureConfig`` of a sidecar (keys this hypersp does not know are ignored)."""
    from hypersp.audio.config import FeatureConfig

    known = FeatureConfig.__dataclass_fields__
    return FeatureConfig(**{k: v for k, v in meta["features"].items() if k in known})


def tokenizer_origin(tokenizer: Any) -> Dict[str, str]:
    """``{"module", "class"}`` of a tokenizer instance, recorded in the sidecar so that
    :func:`build_tokenizer` imports exactly that module."""
    cls = type(tokenizer)
    return {"module": cls.__module__, "class": cls.__qualname__}


# --- the tokenizer, without the registry's full load -------------------------------------------

def _registered(name: str) -> Optional[Any]:
    """The tokenizer registry entry for ``name`` if a module imported so far registered it.

    Reads the registry's table directly: ``TOKENIZERS.entry`` would first import every built-in
    module (models, hence torch)."""
    from hypersp.registry import TOKENIZERS

    return getattr(TOKENIZERS, "_entries", {}).get(name)


def _try_import(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name and module.startswith(err.name):  # the module itself (or its package) does not exist
            return False
        raise
    return True


def _tokenizer_entry(name: str, module: str = ""):
    """(class, config dataclass or None) registered as tokenizer ``name``."""
    if module:
        if not _try_import(module):
            raise ExportError(f"the sidecar's tokenizer {name!r} comes from module {module!r}, which is not installed "
                              "(install the plugin that provides it)")
    if _registered(name) is None and name.isidentifier():
        _try_import(f"hypersp.tokenizers.{name}")
    if _registered(name) is None:
        from hypersp.plugins import builtin_modules

        for builtin in builtin_modules():
            if builtin.startswith("hypersp.tokenizers."):
                importlib.import_module(builtin)
    entry = _registered(name)
    if entry is None:  # a plugin tokenizer: the registry loads plugins (and reports unknown names)
        from hypersp.registry import TOKENIZERS

        entry = TOKENIZERS.entry(name)
    return entry.cls, entry.config


def _tokenizer_config(schema: Optional[type], values: Dict[str, Any]):
    if schema is not None and is_dataclass(schema):
        known = {f.name for f in fields(schema)}
        return schema(**{k: v for k, v in values.items() if k in known})
    return SimpleNamespace(**values)


def build_tokenizer(meta: Dict[str, Any]):
    """The tokenizer described by a sidecar, vocabulary loaded (no torch, no omegaconf).

    Its ``cfg`` is the tokenizer's config dataclass filled from the sidecar (keys the class does
    not define are ignored).
    """
    tok = meta["tokenizer"]
    values = dict(tok["config"])
    name = str(values.get("name", ""))
    if not name:
        raise ExportError("the sidecar's tokenizer.config has no 'name'; re-export the model with hypersp-export")
    cls, schema = _tokenizer_entry(name, str(tok.get("module", "") or ""))
    tokenizer = cls(_tokenizer_config(schema, values))
    tokenizer.load_state_dict(tok["state"])
    return tokenizer
