"""Cached streaming inference: each new piece of audio costs work proportional to the piece.

The window scheme of :mod:`hypersp.inference.streaming` re-runs the whole model on seconds of context at
every step. Here a model that can stream (``model.supports_streaming``, see hypersp/models/base.py) keeps its
context in a state instead (attention key/value cache, convolution inputs, subsampling inputs), and the
features are computed incrementally too:

    enc = CachedEncoder(backend, StreamContext(left=64, right=0), feature_norm="cumulative")
    u = enc.start()                                   # one utterance
    frames, u = enc.step(u, samples)                  # (T', V) log-posteriors now final, new state
    tail = enc.peek(u)                                # the tentative rest, as if the utterance ended now
    frames, u = enc.step(u, rest, last=True)          # the utterance ends: every remaining frame
    [(frames, u), ...] = enc.step_many([u, ...], [samples, ...], [last, ...])  # many streams in one model call

Features: the framing and log-mel arithmetic are the backend's featurizer's own (run on the new samples plus
one already-used frame, whose samples give the pre-emphasis its history; that frame is dropped). Models
trained with per-utterance mean/variance normalization cannot see the utterance's statistics before it ends;
``feature_norm`` chooses the substitute:

- ``cumulative``: each new frame is normalized with the mean and variance of the utterance's frames so far
  (frames already given to the model keep the normalization they had): what ``task.features.normalize=cumulative``
  computes offline, so a model trained with it streams exactly as it was trained (and always streams so);
- ``none``: the raw log-mel (models trained with ``task.features.normalize=none`` always stream it).

Compiled steps: a small model's step costs mostly per operator call (~1-3 ms of eager PyTorch for 8 frames of
the 1.8 M-parameter demo conformer). Where the model has a tensor-only core with fixed-shape caches
(``model.stream_step_module``: conformer without attention lookahead, causal convolutions; from feature frames
through subsampling, blocks and CTC head to log-probabilities) it is exported to onnxruntime once per process and
model (``streaming.step_runtime``; :func:`compiled_stream_step`) and ``forward_chunks`` runs it instead of the
eager module, with the same frames (tests/test_cached_streaming.py).

Only ``TorchBackend`` models run here; :func:`cached_encoder_for` says why another one cannot (the streaming
recognizer then falls back to the window scheme).
"""
from __future__ import annotations

import copy
import importlib.util
import io
import logging
import warnings
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

FEATURE_NORMS = ("cumulative", "none")
STEP_RUNTIMES = ("auto", "onnxruntime", "torch")
logger = logging.getLogger(__name__)
_NORM_EPS = 1e-5  # as hypersp.audio.features (added to the standard deviation)


@dataclass(frozen=True)
class UtteranceState:
    """One utterance being streamed: unused samples, feature statistics, the model's state."""

    samples: np.ndarray  # samples from the start of the last frame already made (or all, before the first)
    frames: int  # feature frames made so far
    first: Optional[np.ndarray]  # (F,) the first frame's log-mel (statistics are of values relative to it)
    total: Optional[np.ndarray]  # (F,) float64 sum of (frame - first)
    total_sq: Optional[np.ndarray]  # (F,) float64 sum of (frame - first)^2
    model: Any
    ended: bool = False  # step(last=True) was given: every frame is out


class CachedEncoder:
    """Incremental features + ``model.forward_chunks`` for one backend (all streams share it; states are values).

    ``context``: the model's :class:`~hypersp.models.base.StreamContext`; ``feature_norm``: see the module docstring.
    ``lookahead_s``: seconds of audio after a frame's start before it is final (``model.stream_lookahead_frames``).
    """

    def __init__(self, backend: Any, context: Any, feature_norm: str = "cumulative", step_runtime: str = "torch"):
        import torch

        if feature_norm not in FEATURE_NORMS:
            raise ValueError(f"streaming.feature_norm={feature_norm!r}; choose one of {', '.join(FEATURE_NORMS)}")
        self.torch = torch
        self.backend = backend
        self.model = backend.model
        self.context = context
        # A model trained with a streamable normalization streams with exactly that, whatever was asked.
        trained = backend.featurizer.normalize
        self.feature_norm = trained if trained in FEATURE_NORMS else feature_norm
        # The backend's featurizer without its per-utterance normalization (done here, incrementally).
        self.featurizer = copy.copy(backend.featurizer)
        self.featurizer.normalize = "none"
        self.win, self.hop = int(self.featurizer.win_length), int(self.featurizer.hop_length)
        self.lookahead_s = (self.model.stream_lookahead_frames(context) + 1) * self.hop / backend.sample_rate
        self.vocab_size = int(backend.vocab_size)
        # the runtime of the step's tensor core ("torch" where the model has none) and its compiled form
        self.step_runtime, self._step = compiled_stream_step(self.model, context, step_runtime, backend.device)
        self._step_args = {"step": self._step} if self._step is not None else {}

    def start(self) -> UtteranceState:
        return UtteranceState(np.zeros(0, dtype=np.float32), 0, None, None, None, self.model.init_stream_state(self.context))

    def step(self, u: UtteranceState, samples: np.ndarray, last: bool = False) -> Tuple[np.ndarray, UtteranceState]:
        """Feed ``samples`` (float32 at the model rate, any length) -> ``(log_probs (T', V) float32, new state)``:
        the output frames that became final. ``last=True`` ends the utterance (every remaining frame)."""
        return self.step_many([u], [samples], [last])[0]

    def step_many(self, states: Sequence[UtteranceState], samples: Sequence[np.ndarray],
                  last: Sequence[bool]) -> List[Tuple[np.ndarray, UtteranceState]]:
        """:meth:`step` for several utterances (one per live stream) in one ``model.forward_chunks`` call:
        a small model's step costs mostly per call, so a server step over 50 streams costs about what one
        forward over their audio does. Returns ``(log_probs, new state)`` per utterance, in order."""
        torch = self.torch
        feats, states = zip(*(self._features(u, np.asarray(x, dtype=np.float32).reshape(-1), end)
                              for u, x, end in zip(states, samples, last)))
        with torch.inference_mode():  # (not no_grad: a quarter less fixed cost per op, which dominates a chunk)
            log_probs, model_states = self.model.forward_chunks([f.to(self.backend.device) for f in feats],
                                                                [u.model for u in states], list(last), **self._step_args)
        return [(lp.float().cpu().numpy(), replace(u, model=m, ended=end))
                for lp, u, m, end in zip(log_probs, states, model_states, last)]

    def peek(self, u: UtteranceState) -> np.ndarray:
        """The frames not yet final, computed as if the utterance ended now ``(T'', V)``; ``u`` is unchanged."""
        return self.peek_many([u])[0]

    def peek_many(self, states: Sequence[UtteranceState]) -> List[np.ndarray]:
        """:meth:`peek` for several utterances in one ``model.forward_chunks`` call."""
        torch = self.torch
        out = [np.zeros((0, self.vocab_size), dtype=np.float32) for _ in states]
        open_ = [k for k, u in enumerate(states) if not u.ended]
        if open_:
            with torch.inference_mode():
                empty = torch.zeros(0, self.model.input_dim, device=self.backend.device)
                log_probs, _ = self.model.forward_chunks([empty] * len(open_), [states[k].model for k in open_],
                                                         [True] * len(open_), **self._step_args)
            for k, lp in zip(open_, log_probs):
                out[k] = lp.float().cpu().numpy()
        return out

    # ---- features --------------------------------------------------------------------------
    def _features(self, u: UtteranceState, x: np.ndarray, last: bool):
        """New normalized feature frames ``(T, F)`` torch float32 and the state after them.

        Frame t covers samples [t * hop, t * hop + win) (the featurizer's framing); samples past the last
        whole frame wait for the next call, and are dropped at the end of the utterance, as offline."""
        torch = self.torch
        buf = np.concatenate([u.samples, x]) if x.size else u.samples
        skip = 1 if u.frames else 0  # the buffer starts with an already-made frame (pre-emphasis history)
        if buf.size >= self.win:
            n = 1 + (buf.size - self.win) // self.hop
        else:  # offline, a wave shorter than a window is one zero-padded frame
            n = 1 if (last and not u.frames and buf.size) else 0
        n_dim = int(self.featurizer.n_mels)
        if n - skip <= 0:
            return torch.zeros(0, n_dim), replace(u, samples=buf)
        with torch.inference_mode():
            wave = torch.from_numpy(np.ascontiguousarray(buf[:(n - 1) * self.hop + self.win])).to(self.backend.device)
            raw, _ = self.featurizer(wave[None])
        raw = raw[0, skip:n].double()
        rest = buf[(n - 1) * self.hop:]
        if self.feature_norm == "none":
            return raw.float(), replace(u, samples=rest, frames=u.frames + n - skip)
        first = raw[0] if u.first is None else torch.from_numpy(u.first)
        shifted = raw - first
        # Statistics up to each new frame (cumulative sums), so a frame never waits for later ones.
        total = shifted.cumsum(0) + (0 if u.total is None else torch.from_numpy(u.total))
        total_sq = shifted.square().cumsum(0) + (0 if u.total_sq is None else torch.from_numpy(u.total_sq))
        count = torch.arange(u.frames + 1, u.frames + n - skip + 1, dtype=torch.float64)[:, None]
        mean = total / count
        std = (total_sq / count - mean.square()).clamp(min=0).sqrt()
        feats = ((shifted - mean) / (std + _NORM_EPS)).float()
        return feats, UtteranceState(rest, u.frames + n - skip, first.numpy(), total[-1].numpy(),
                                     total_sq[-1].numpy(), u.model)


# model -> {(context, runtime): (weights key, compiled step)}: one export per process and model, redone when the
# weights change (a model being trained); a model that is freed takes its entries with it.
_COMPILED_STEPS: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


def compiled_stream_step(model: Any, context: Any, runtime: str = "auto", device: Any = "cpu"
                         ) -> Tuple[str, Optional[Callable]]:
    """``(runtime, step)`` for ``model``'s streaming steps: ``step`` is a compiled equivalent of
    ``model.stream_step_module(context)`` for ``forward_chunks(..., step=step)``, or None where the eager model
    runs (``runtime`` "torch": the model has no such module, runs on a GPU, or was asked to run in torch; "auto"
    without onnxruntime installed). ``runtime="onnxruntime"`` without it installed is refused."""
    if runtime not in STEP_RUNTIMES:
        raise ValueError(f"streaming.step_runtime={runtime!r}; choose one of {', '.join(STEP_RUNTIMES)}")
    has_ort = importlib.util.find_spec("onnxruntime") is not None
    if runtime == "onnxruntime" and not has_ort:
        raise ValueError("streaming.step_runtime=onnxruntime needs onnxruntime (pip install 'hypersp[export]'), "
                         "or set streaming.step_runtime=torch")
    module = None if runtime == "torch" or not has_ort or str(device) != "cpu" else model.stream_step_module(context)
    if module is None:
        return "torch", None
    weights = tuple((t.data_ptr(), t._version) for t in (*model.parameters(), *model.buffers()))
    per_model = _COMPILED_STEPS.setdefault(model, {})
    key = (context, "onnxruntime")
    if key not in per_model or per_model[key][0] != weights:
        try:
            per_model[key] = (weights, _OnnxStep(module))
        except Exception as err:  # an exporter or onnxruntime that cannot take this module: say so, stream anyway
            if runtime == "onnxruntime":
                raise ValueError(f"streaming.step_runtime=onnxruntime: the step could not be exported ({err}); "
                                 f"set streaming.step_runtime=torch") from err
            logger.warning("streaming.step_runtime=auto: the step could not be exported to onnxruntime (%s); its "
                           "steps run in PyTorch", err)
            return "torch", None
    return "onnxruntime", per_model[key][1]


class _OnnxStep:
    """A ``ConformerStreamStep`` exported to ONNX (in memory) and run by onnxruntime on one thread (a step is a
    few small matrix products; the server's other thread runs the finals): called with and returning torch
    tensors, as the module."""

    def __init__(self, module: Any):
        import onnxruntime as ort
        import torch

        from hypersp.export.export import DEFAULT_OPSET

        self.torch = torch
        self.names = list(module.input_names)
        graph = io.BytesIO()
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notice about dynamo=False (chosen as in hypersp.export)
            torch.onnx.export(module.eval(), module.example_inputs(), graph, dynamo=False,
                              opset_version=DEFAULT_OPSET, input_names=self.names, output_names=list(module.output_names),
                              dynamic_axes=module.dynamic_axes, do_constant_folding=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(graph.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, *inputs):
        feed = {name: (t.float() if t.is_floating_point() else t).detach().contiguous().numpy()
                for name, t in zip(self.names, inputs)}
        return tuple(self.torch.from_numpy(out) for out in self.session.run(None, feed))


def cached_encoder_for(recognizer: Any, cfg: Any) -> Tuple[Optional[CachedEncoder], str]:
    """``(CachedEncoder, "")`` when ``recognizer``'s backend can stream with cached context, else ``(None, why)``."""
    from hypersp.models.base import StreamContext

    backend = recognizer.backend
    model = getattr(backend, "model", None)
    if model is None or not hasattr(backend, "featurizer") or not hasattr(backend, "device"):
        return None, f"{type(backend).__name__} runs an exported graph without stream state"
    if not getattr(model, "supports_streaming", False):
        return None, f"model {type(model).__name__} cannot stream (supports_streaming is False)"
    if not getattr(backend.featurizer, "snip_edges", True):
        return None, "features without snip_edges framing"
    try:
        context = StreamContext(int(cfg.cached_left_frames), int(cfg.cached_right_frames))
        enc = CachedEncoder(backend, context, str(cfg.feature_norm), str(cfg.step_runtime))
        model.init_stream_state(context)  # a model trained with its own context limits refuses here
    except ValueError as err:
        return None, str(err)
    return enc, ""
