"""Recognition with an exported model (ONNX through onnxruntime, or TorchScript), no checkpoint needed.

    rec = OnnxRecognizer("export/demo_ko_16k.onnx")          # reads export/demo_ko_16k.onnx.json too
    rec.transcribe_file("call.wav")      # {"text", "segments", "duration", "sample_rate"}, as Recognizer
    rec.recognize_waves([samples])       # ["..."]

The pipeline is ``Recognizer``'s (resampling, VAD segmentation, batching by duration, greedy CTC),
with the forward pass swapped: audio -> log-mel features in torch (``LogMelFeatures`` built from the
sidecar's feature config, so identical to training) -> the exported graph -> greedy CTC -> text
through the tokenizer rebuilt from the sidecar.

onnxruntime is an optional dependency (``pip install hypersp[export]``); a missing one fails with
that command. ``threads`` sets onnxruntime's intra-op threads (default: onnxruntime's choice) or
torch's for TorchScript.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from hypersp.inference.recognizer import Recognizer
from hypersp.inference.vad import VadConfig

RunFn = Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as err:
        raise ImportError("onnxruntime is not installed; install the export extra: pip install 'hypersp[export]' "
                          "(or pip install onnxruntime)") from err
    return onnxruntime


def onnx_session(path: str | Path, threads: Optional[int] = None):
    """An onnxruntime CPU session with all graph optimizations and ``threads`` intra-op threads."""
    ort = import_onnxruntime()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def load_exported(path: str | Path, fmt: Optional[str] = None, threads: Optional[int] = None) -> RunFn:
    """``run(features (B,T,F) float32, lengths (B,) int64) -> (log_probs (B,T',V), out_lengths (B,))`` as numpy.

    ``fmt`` is ``onnx`` or ``torchscript``; by default ``.onnx`` files are ONNX, anything else TorchScript.
    """
    fmt = fmt or ("onnx" if str(path).endswith(".onnx") else "torchscript")
    if fmt == "onnx":
        sess = onnx_session(path, threads)

        def run(features: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
            lp, ol = sess.run(["log_probs", "out_lengths"],
                              {"features": np.ascontiguousarray(features, dtype=np.float32),
                               "lengths": np.asarray(lengths, dtype=np.int64)})
            return lp, ol
        run.session = sess
        return run
    if fmt == "torchscript":
        if threads:
            torch.set_num_threads(int(threads))
        with warnings.catch_warnings():  # torch.jit is deprecated in favour of torch.export; it still runs
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(path), map_location="cpu").eval()

        def run(features: np.ndarray, lengths: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
            with torch.no_grad():
                lp, ol = module(torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)),
                                torch.from_numpy(np.asarray(lengths, dtype=np.int64)))
            return lp.numpy(), ol.numpy()
        run.module = module
        return run
    raise ValueError(f"unknown exported model format {fmt!r}; choose onnx or torchscript")


class _SidecarTask:
    """The slice of a task the recognizer uses (features, rate, text), rebuilt from a sidecar."""

    def __init__(self, meta: Dict[str, Any]):
        from hypersp.audio.config import FeatureConfig
        from hypersp.export.export import build_tokenizer

        known = FeatureConfig.__dataclass_fields__
        self.feature_config = FeatureConfig(**{k: v for k, v in meta["features"].items() if k in known})
        self.sample_rate = int(meta["sample_rate"])
        self.tokenizer = build_tokenizer(meta)
        self.input_dim = int(meta["input_dim"])
        self.vocab_size = int(meta["vocab_size"])

    def featurizer(self):
        from hypersp.audio.features import LogMelFeatures

        return LogMelFeatures(self.feature_config)

    def decode(self, ids: List[int]) -> str:
        return self.tokenizer.decode(ids)


class OnnxRecognizer(Recognizer):
    """``Recognizer`` over an exported model file plus its sidecar (``FILE.json``).

    Same methods and results as ``Recognizer``: ``log_probs``, ``recognize_waves``, ``transcribe``,
    ``transcribe_file``, ``segment``; attributes ``sample_rate``, ``frame_shift_s``, ``meta`` (the sidecar).
    Runs on the CPU.
    """

    def __init__(self, model_file: str | Path, threads: Optional[int] = None, batch_seconds: float = 120.0,
                 vad: Optional[VadConfig] = None, fmt: Optional[str] = None):
        from hypersp.export.export import load_sidecar

        self.meta = load_sidecar(model_file)
        fmt = fmt or self.meta.get("model_format")
        self.run = load_exported(model_file, fmt, threads)
        self.device = torch.device("cpu")
        self.model = None
        self.task = _SidecarTask(self.meta)
        self.featurizer = self.task.featurizer().eval()
        self.sample_rate = self.task.sample_rate
        self.batch_seconds = float(batch_seconds)
        self.vad = vad or VadConfig()
        self.subsampling_factor = int(self.meta["subsampling_factor"])
        self.frame_shift_s = self.featurizer.hop_length / float(self.sample_rate) * self.subsampling_factor

    @classmethod
    def from_checkpoint(cls, *args, **kwargs):  # pragma: no cover - guard against the inherited constructor
        raise TypeError("OnnxRecognizer runs an exported model: OnnxRecognizer(FILE.onnx); "
                        "use Recognizer.from_checkpoint for checkpoints")

    @torch.no_grad()
    def log_probs(self, waves: Sequence[np.ndarray]) -> List[torch.Tensor]:
        """As ``Recognizer.log_probs``: per wave ``(T'_i, V)`` log-probs (torch, CPU); empty waves give ``(0, V)``."""
        if not waves:
            return []
        lengths = torch.tensor([max(int(w.shape[0]), 1) for w in waves], dtype=torch.long)
        batch = torch.zeros(len(waves), int(lengths.max()), dtype=torch.float32)
        for i, w in enumerate(waves):
            batch[i, : w.shape[0]] = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        feats, feat_lengths = self.featurizer(batch, lengths)
        out, out_lengths = self.run(feats.numpy(), feat_lengths.numpy())
        out = torch.from_numpy(np.asarray(out))
        return [out[i, : int(out_lengths[i])] if waves[i].shape[0] else out[i, :0] for i in range(len(waves))]
