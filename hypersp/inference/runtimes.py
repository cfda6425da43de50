"""Which runtime runs a checkpoint's forward pass: PyTorch eager, TorchScript or onnxruntime.

``hypersp.load(ckpt, runtime="onnxruntime")``, ``hypersp-eval/-transcribe/-serve --runtime ...``: the
checkpoint is exported once (``hypersp.export``) into a cache folder and the export's backend
(:mod:`hypersp.inference.backends`) replaces the PyTorch one inside the same engine (``Recognizer``):
same features, decoder, VAD and configuration, so the same text.

Cache: ``$HYPERSP_EXPORT_CACHE`` or ``$XDG_CACHE_HOME/hypersp/exports`` (default
``~/.cache/hypersp/exports``), one folder per checkpoint content (its SHA-256 content hash,
:func:`hypersp.checkpoint.content_hash`), inside it one folder per format and model configuration
(``onnx-<digest>/model.onnx`` + sidecar). An export is written to a temporary folder and renamed into
place, so concurrent processes (server workers) never see half a file; a damaged export (its sidecar's
SHA-256 does not match) is exported again.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional

RUNTIMES = ("torch", "torchscript", "onnxruntime")
FORMAT_OF = {"torchscript": "torchscript", "onnxruntime": "onnx"}
FILE_OF = {"torchscript": "model.ts", "onnx": "model.onnx"}


def check_runtime(runtime: str, device: str = "cpu") -> str:
    """``runtime`` if it is one of :data:`RUNTIMES` and can run on ``device`` (the exports run on the
    CPU), else a ``ConfigError`` saying why."""
    from hypersp.config import ConfigError

    if runtime not in RUNTIMES:
        raise ConfigError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime != "torch" and str(device) != "cpu":
        raise ConfigError(f"runtime {runtime!r} runs on the CPU; use runtime 'torch' for device {device!r}")
    return runtime


def check_precision(precision: str, runtime: str = "torch", device: Any = "cpu") -> str:
    """``precision`` if a forward pass on ``runtime`` and ``device`` can run in it, else a ``ConfigError``:
    bf16 / fp16 run the PyTorch model under ``torch.autocast`` (the exports run float32); fp16 needs CUDA."""
    from hypersp.config import ConfigError
    from hypersp.config.schema import PRECISIONS

    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "fp32" and runtime != "torch":
        raise ConfigError(f"precision {precision!r} runs the PyTorch model (autocast); runtime {runtime!r} runs "
                          f"float32: use runtime 'torch' or precision 'fp32'")
    if precision == "fp16" and str(device).split(":")[0] == "cpu":
        raise ConfigError("precision 'fp16' needs CUDA; on the CPU use 'bf16' or 'fp32'")
    return precision


def cpu_has_native_bf16() -> Optional[bool]:
    """Whether the CPU flags (``/proc/cpuinfo``) include ``amx_bf16`` or ``avx512_bf16`` (bf16 matrix
    instructions; without them bf16 runs emulated, usually slower than fp32); None where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()}
    if not flags:
        return None
    return bool(flags & {"amx_bf16", "avx512_bf16"})


def runtime_of_export(model_file: str | Path) -> str:
    """The runtime that runs an export (from its sidecar's ``model_format``; ``.onnx``: onnxruntime)."""
    from hypersp.export.sidecar import load_sidecar

    fmt = load_sidecar(model_file).get("model_format") or ("onnx" if str(model_file).endswith(".onnx") else "")
    return {v: k for k, v in FORMAT_OF.items()}.get(fmt, fmt)


def export_cache_dir() -> Path:
    """Where exports of checkpoints are kept (see the module docstring)."""
    if os.environ.get("HYPERSP_EXPORT_CACHE"):
        return Path(os.environ["HYPERSP_EXPORT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "hypersp" / "exports"


def checkpoint_key(state: Dict[str, Any]) -> str:
    """The checkpoint's SHA-256 content hash: the one recorded in it, or computed for a legacy file."""
    from hypersp.checkpoint import INTEGRITY_KEY, content_hash

    recorded = (state.get(INTEGRITY_KEY) or {}).get("sha256")
    return str(recorded) if recorded else content_hash(state)


def _config_digest(comp: Any, fmt: str) -> str:
    """What else shapes the exported graph: model and feature config (overrides may change them), hypersp's version."""
    from omegaconf import OmegaConf

    from hypersp import __version__

    cfg = OmegaConf.to_container(comp.cfg, resolve=True)
    what = {"model": cfg.get("model"), "features": (cfg.get("task") or {}).get("features"), "format": fmt,
            "hypersp": __version__}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached_export(comp: Any, state: Dict[str, Any], runtime: str, source: str = "",
                  cache_dir: Optional[Path] = None) -> Path:
    """The export of ``comp`` (built from checkpoint ``state``) for ``runtime`` (``torchscript`` or
    ``onnxruntime``): taken from the cache, or exported into it first. Returns the model file's path
    (its sidecar ``FILE.json`` beside it)."""
    from hypersp.export.export import export_components
    from hypersp.export.sidecar import ExportError, load_sidecar, verify_export

    if check_runtime(runtime) not in FORMAT_OF:
        raise ValueError(f"runtime {runtime!r} runs the checkpoint itself; nothing to export")
    fmt = FORMAT_OF[runtime]
    folder = (cache_dir or export_cache_dir()) / checkpoint_key(state) / f"{fmt}-{_config_digest(comp, fmt)}"
    model_file = folder / FILE_OF[fmt]
    if model_file.is_file():
        try:
            verify_export(model_file, load_sidecar(model_file))
            return model_file
        except ExportError:  # damaged (e.g. an interrupted copy): export it again
            shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        export_components(comp, fmt, tmp / FILE_OF[fmt], source=source)
        try:
            os.rename(tmp, folder)  # atomic: other processes see the whole export or none
        except OSError:
            if not model_file.is_file():  # not another process that finished first
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return model_file


def backend_for(comp: Any, state: Dict[str, Any], runtime: str = "torch", device: str = "cpu",
                threads: Optional[int] = None, source: str = "", precision: str = "fp32"):
    """The forward-pass backend of a checkpoint's components for ``runtime``: ``torch`` the model itself
    (:class:`TorchBackend` on ``device``, in ``precision``); ``torchscript`` / ``onnxruntime`` its cached
    export on the CPU with ``threads`` intra-op threads (default: the runtime's choice), float32."""
    from hypersp.inference.backends import TorchBackend, open_exported

    if check_runtime(runtime, device) == "torch":
        return TorchBackend(comp.model, comp.task, device=device, precision=precision)  # checks the precision
    check_precision(precision, runtime, device)  # an export runs float32: another precision is refused
    return open_exported(cached_export(comp, state, runtime, source=source), threads=threads)
