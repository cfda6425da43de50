"""Forward-pass backends of the recognition engine: audio in, CTC log-posteriors out.

The engine (``hypersp.inference.recognizer``) owns everything around the forward pass (resampling,
VAD segmentation, batching by duration, decoding, timestamps); a backend only turns a padded
batch of waveforms into log-probabilities. Every backend follows :class:`Backend`::

    backend.sample_rate      # Hz the model runs at (16000, or 8000 for telephone models)
    backend.frame_shift_s    # seconds per output frame = feature hop x subsampling factor
    backend.tokenizer        # hypersp tokenizer: tokens, encode(text), decode(ids)
    backend.vocab_size       # V, blank id 0
    backend.log_probs(waves) # [(S_i,) float32 in [-1, 1]] -> [(T'_i, V) float32 natural-log posteriors]

Backends:

- :class:`TorchBackend` ``(model, task, device)``: a model built from a checkpoint; features by
  ``LogMelFeatures`` on ``device``; also :meth:`TorchBackend.features` for the attention decoder.
- :class:`OnnxBackend` ``(model_file, threads)``: an ONNX export plus its sidecar ``FILE.json``;
  features by ``NumpyLogMelFeatures``, the graph by onnxruntime. **Needs no torch**: importing this
  module and building / running an ``OnnxBackend`` imports numpy, onnxruntime and hypersp's
  torch-free modules only (``tests/test_onnx_backend.py`` runs it with torch blocked).
- :class:`TorchScriptBackend` ``(model_file, threads)``: a TorchScript export plus its sidecar
  (features in torch).

:func:`open_exported` picks the backend of an export from its sidecar's ``model_format``.
"""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hypersp.audio.features_numpy import NumpyLogMelFeatures
from hypersp.export.sidecar import ExportError, build_tokenizer, feature_config, load_sidecar, verify_export

logger = logging.getLogger(__name__)


class Backend:
    """Documentation base of the backend contract (the engine only relies on these members).

    ``log_probs(waves)``: ``waves`` is a sequence of ``(S_i,)`` float32 arrays in [-1, 1] at
    ``sample_rate``; the result has one ``(T'_i, V)`` float32 array of natural-log posteriors per
    wave (valid frames only, ``T'_i`` about ``S_i / (sample_rate * frame_shift_s)``); an empty wave
    gives ``(0, V)``. All waves go through one padded forward pass: the caller bounds the batch.
    """

    sample_rate: int
    frame_shift_s: float
    tokenizer: Any
    vocab_size: int
    precision: str = "fp32"  # the forward pass's arithmetic (TorchBackend: fp32, or bf16/fp16 under autocast)

    def log_probs(self, waves: Sequence[np.ndarray]) -> List[np.ndarray]:  # pragma: no cover - contract
        raise NotImplementedError

    def autocast(self):
        """The context a forward pass of the model runs in (``precision``); the exports run float32."""
        return contextlib.nullcontext()


def pad_waves(waves: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """``waves`` -> ``(batch (B, S_max) float32 zero-padded, lengths (B,) int64)``.

    An empty wave counts as one (zero) sample so that every row yields a frame; callers return
    ``(0, V)`` for it.
    """
    lengths = np.array([max(int(np.asarray(w).shape[0]), 1) for w in waves], dtype=np.int64)
    batch = np.zeros((len(waves), int(lengths.max())), dtype=np.float32)
    for i, w in enumerate(waves):
        w = np.asarray(w, dtype=np.float32)
        if w.ndim != 1:
            raise ValueError(f"log_probs expects mono waves (S,), wave {i} has shape {w.shape}")
        batch[i, : w.shape[0]] = w
    return batch, lengths


def _split(out: np.ndarray, out_lengths: np.ndarray, waves: Sequence[np.ndarray]) -> List[np.ndarray]:
    out = np.asarray(out, dtype=np.float32)
    return [out[i, : int(out_lengths[i])] if np.asarray(waves[i]).shape[0] else out[i, :0]
            for i in range(len(waves))]


# --- checkpoints (torch) ---------------------------------------------------------------------

class TorchBackend(Backend):
    """A PyTorch model and its task: ``model(features (B,T,F), lengths (B,)) -> (log_probs (B,T',V), out_lengths)``.

    Attributes: ``model`` (eval mode, on ``device``), ``task``, ``featurizer`` (the task's
    ``LogMelFeatures`` on ``device``), ``device`` (``torch.device``), ``subsampling_factor``,
    ``sample_rate``, ``frame_shift_s``, ``tokenizer``, ``vocab_size``, ``precision``.

    ``precision``: ``fp32``, or ``bf16`` / ``fp16`` (CUDA): the model's forward pass runs under
    ``torch.autocast`` to that type (features and log-probs stay float32). On a CPU with bf16 matrix
    instructions (AMX) bf16 is faster than fp32 only for large batches of equal shapes (a burst of
    finals, 120 s batches) and slower for small or varied ones; the text can differ a little from fp32
    (README, "Inference precision", has the measurements).
    """

    def __init__(self, model: Any, task: Any, device: str = "cpu", precision: str = "fp32"):
        import torch

        from hypersp.inference.runtimes import check_precision, cpu_has_native_bf16

        self.device = torch.device(device)
        self.precision = check_precision(precision, "torch", self.device)
        if precision == "bf16" and self.device.type == "cpu" and cpu_has_native_bf16() is False:
            logger.warning("precision bf16: this CPU has no bf16 matrix instructions (amx_bf16, avx512_bf16); "
                           "the forward pass runs emulated and is likely slower than fp32")
        self.model = model.to(self.device).eval()
        self.task = task
        self.featurizer = task.featurizer().to(self.device).eval()
        self.sample_rate = int(task.sample_rate)
        self.tokenizer = task.tokenizer
        self.vocab_size = int(task.vocab_size)
        self.subsampling_factor = int(model.subsampling_factor)  # required by the model contract
        self.frame_shift_s = self.featurizer.hop_length / float(self.sample_rate) * self.subsampling_factor

    @classmethod
    def from_checkpoint(cls, name_or_path: str, device: str = "cpu", overrides=(),
                        precision: str = "fp32") -> "TorchBackend":
        """Build from a checkpoint path or a shipped model name; the composed config is ``backend.config``."""
        from hypersp.checkpoint import build_from_checkpoint
        from hypersp.checkpoint import load_checkpoint

        comp = build_from_checkpoint(load_checkpoint(name_or_path), overrides=overrides, device=device)
        backend = cls(comp.model, comp.task, device=device, precision=precision)
        backend.config = comp.cfg
        return backend

    def features(self, waves: Sequence[np.ndarray]):
        """``waves`` -> ``(features (B, T, F) float32, lengths (B,) long)`` torch tensors on ``device``
        (one padded batch; an empty wave counts as one zero sample)."""
        import torch

        batch, lengths = pad_waves(waves)
        with torch.no_grad():
            return self.featurizer(torch.from_numpy(batch).to(self.device), torch.from_numpy(lengths).to(self.device))

    def log_probs(self, waves: Sequence[np.ndarray]) -> List[np.ndarray]:
        import torch

        if not waves:
            return []
        with torch.no_grad():
            feats, feat_lengths = self.features(waves)
            with self.autocast():
                out, out_lengths = self.model(feats, feat_lengths)
        return _split(out.float().cpu().numpy(), out_lengths.cpu().numpy(), waves)

    def autocast(self):
        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16 if self.precision == "bf16" else torch.float16)


# --- exports -------------------------------------------------------------------------------

def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError("onnxruntime is not installed; install the export extra: pip install 'hypersp[export]' "
                          "(or pip install onnxruntime)") from err
    return onnxruntime


def onnx_session(path: str | Path, threads: Optional[int] = None):
    """An onnxruntime CPU session with all graph optimizations and ``threads`` intra-op threads
    (default: onnxruntime's choice, one per core)."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


class _ExportedBackend(Backend):
    """What both export backends read from the sidecar."""

    def _init_from_sidecar(self, model_file: str | Path, fmt: str) -> None:
        self.model_file = Path(model_file)
        if not self.model_file.is_file():
            raise ExportError(f"{self.model_file}: exported model file not found")
        self.meta: Dict[str, Any] = load_sidecar(model_file)
        verify_export(self.model_file, self.meta)  # a damaged model file or sidecar: one-line ExportError
        found = self.meta.get("model_format", fmt)
        if found != fmt:
            raise ExportError(f"{self.model_file}: its sidecar says model_format={found!r}, not {fmt!r}; "
                              "open it with hypersp.inference.backends.open_exported")
        self.feature_config = feature_config(self.meta)
        self.sample_rate = int(self.meta["sample_rate"])
        self.tokenizer = build_tokenizer(self.meta)
        self.vocab_size = int(self.meta["vocab_size"])
        self.subsampling_factor = int(self.meta["subsampling_factor"])


class OnnxBackend(_ExportedBackend):
    """An ONNX export (``FILE``) with its sidecar (``FILE.json``), run by onnxruntime on the CPU; no torch.

    ``threads`` sets onnxruntime's intra-op threads (default: onnxruntime's choice). Attributes:
    ``meta`` (the sidecar), ``session``, ``featurizer`` (``NumpyLogMelFeatures``),
    ``subsampling_factor``, plus the :class:`Backend` members.
    """

    def __init__(self, model_file: str | Path, threads: Optional[int] = None):
        self._init_from_sidecar(model_file, "onnx")
        self.featurizer = NumpyLogMelFeatures(self.feature_config)
        self.frame_shift_s = self.featurizer.hop_length / float(self.sample_rate) * self.subsampling_factor
        self.session = onnx_session(self.model_file, threads)

    def features(self, waves: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """``waves`` -> ``(features (B, T, F) float32, lengths (B,) int64)`` numpy arrays (one padded batch)."""
        return self.featurizer(*pad_waves(waves))

    def run(self, features: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The exported graph: ``(features (B,T,F), lengths (B,)) -> (log_probs (B,T',V), out_lengths (B,))``."""
        lp, ol = self.session.run(["log_probs", "out_lengths"],
                                  {"features": np.ascontiguousarray(features, dtype=np.float32),
                                   "lengths": np.asarray(lengths, dtype=np.int64)})
        return lp, ol

    def log_probs(self, waves: Sequence[np.ndarray]) -> List[np.ndarray]:
        if not waves:
            return []
        out, out_lengths = self.run(*self.features(waves))
        return _split(out, out_lengths, waves)


class TorchScriptBackend(_ExportedBackend):
    """A TorchScript export with its sidecar: features in torch (``LogMelFeatures``), graph by ``torch.jit``.

    ``threads`` sets torch's intra-op threads for the whole process (``torch.set_num_threads``).
    """

    def __init__(self, model_file: str | Path, threads: Optional[int] = None):
        import warnings

        import torch

        from hypersp.audio.features import LogMelFeatures

        self._init_from_sidecar(model_file, "torchscript")
        if threads:
            torch.set_num_threads(int(threads))
        self.device = torch.device("cpu")
        self.featurizer = LogMelFeatures(self.feature_config).eval()
        self.frame_shift_s = self.featurizer.hop_length / float(self.sample_rate) * self.subsampling_factor
        with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export; it still runs
            warnings.simplefilter("ignore", DeprecationWarning)
            self.module = torch.jit.load(str(self.model_file), map_location="cpu").eval()

    def features(self, waves: Sequence[np.ndarray]):
        """``waves`` -> ``(features (B, T, F), lengths (B,))`` torch tensors on the CPU."""
        import torch

        batch, lengths = pad_waves(waves)
        with torch.no_grad():
            return self.featurizer(torch.from_numpy(batch), torch.from_numpy(lengths))

    def run(self, features: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The exported graph on numpy arrays, as :meth:`OnnxBackend.run`."""
        import torch

        with torch.no_grad():
            out, out_lengths = self.module(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)),
                                           torch.from_numpy(np.asarray(lengths, dtype=np.int64)))
        return out.float().numpy(), out_lengths.numpy()

    def log_probs(self, waves: Sequence[np.ndarray]) -> List[np.ndarray]:
        import torch

        if not waves:
            return []
        with torch.no_grad():
            feats, feat_lengths = self.features(waves)
            out, out_lengths = self.module(feats, feat_lengths)
        return _split(out.float().numpy(), out_lengths.numpy(), waves)


def open_exported(model_file: str | Path, threads: Optional[int] = None) -> _ExportedBackend:
    """The backend of an export, chosen by its sidecar's ``model_format`` (``onnx`` -> :class:`OnnxBackend`,
    ``torchscript`` -> :class:`TorchScriptBackend`)."""
    fmt = load_sidecar(model_file).get("model_format") or ("onnx" if str(model_file).endswith(".onnx") else "")
    if fmt == "onnx":
        return OnnxBackend(model_file, threads=threads)
    if fmt == "torchscript":
        return TorchScriptBackend(model_file, threads=threads)
    raise ExportError(f"{model_file}: unknown model_format {fmt!r} in its sidecar; choose onnx or torchscript")
