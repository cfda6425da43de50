"""The recognition engine: one path from audio to text for eval, Python, the CLI and every server route.

    import hypersp
    asr = hypersp.load("demo_ko_16k")                          # shipped name, checkpoint path or exported .onnx
    asr = hypersp.load("ckpt.pt", decoding="ctc_beam", beam_size=16, lm="lm.arpa", hotwords=["고객센터"])
    t = asr.transcribe("call.wav")                             # path, bytes, or array + sample_rate=
    t.text, t.segments[0].words[0].start
    s = asr.stream(); events = s.accept(pcm_chunk); events += s.finish()

How audio becomes a ``Transcript``:

1. **Input**: a path (anything ``hypersp.audio.io`` reads), file bytes, or float samples ``(S,)`` /
   ``(C, S)`` at ``sample_rate`` (default: the model's), resampled with soxr to ``rec.sample_rate``.
   Channels are mixed down unless ``channels=True`` recognizes each one separately.
2. **Segmentation** (``segment=True``): the VAD named by ``vad.name`` (``vad.*``) cuts the input into speech segments of
   at most ``vad.max_segment_s``; with ``segment=False`` the whole input is one segment (what
   ``hypersp-eval`` does for a corpus of short utterances).
3. **Forward**: the injected *backend* turns a padded batch of waves into log-posteriors (``TorchBackend``:
   features + PyTorch model; ``OnnxBackend``: numpy features + onnxruntime, no torch needed).
   Segments are batched by duration (at most ``batch_seconds`` of audio per forward; by default 32 s on a CPU,
   120 s on a GPU: ``default_batch_seconds``).
4. **Decoding**: one decoder built from a ``DecodingConfig`` by the decoder registry (greedy, ctc_beam
   with LM and hotwords, attention, or a plugin's); its best hypothesis is the segment's text.
5. **Words**: the best hypothesis is force-aligned to the CTC posteriors (``ctc_align``): each word gets
   start/end times (output frame x ``frame_shift_s``) and a confidence.

Per-call settings (``hotwords``, ``nbest``, ...) build a second decoder from the engine's config with those
fields replaced; decoders are cached by their settings.

Thread safety: the model forward is thread-safe under ``no_grad``; decoders keep no per-call state.
"""
from __future__ import annotations

import io
import math
import os
from dataclasses import asdict, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hypersp.audio.io import load_audio_channels, resample
from hypersp.config.schema import DecodingConfig
from hypersp.inference.transcript import Segment, Transcript, Word
from hypersp.inference.vad import VadConfig, frame_energies_db

# Keyword spellings users know from other toolkits -> DecodingConfig fields.
DECODING_ALIASES = {"decoding": "name", "decoder": "name", "lm": "lm_path", "beam": "beam_size"}
# Settings that only make sense with a beam search: giving one switches a greedy config to ctc_beam.
BEAM_ONLY = ("lm_path", "hotwords", "beam_size")


def make_decoding_config(base: Any = None, **overrides: Any) -> DecodingConfig:
    """A ``DecodingConfig`` from ``base`` (a DecodingConfig, a dict or an OmegaConf node: e.g. a checkpoint's
    ``decoding`` group) with ``overrides`` applied (``None`` values are ignored; aliases ``decoding``/``lm``/``beam``).

    Unknown keys fail with the list of known ones. If the result would be greedy but an LM, hotwords or a
    beam size (or ``nbest > 1``) was given here, the decoder becomes ``ctc_beam`` (greedy has no use for them)."""
    known = {f.name for f in fields(DecodingConfig)}
    values: Dict[str, Any] = {}
    if base is not None:
        if is_dataclass(base):
            values = asdict(base)
        else:
            try:
                from omegaconf import OmegaConf

                values = OmegaConf.to_container(base, resolve=True) if OmegaConf.is_config(base) else dict(base)
            except ImportError:  # pragma: no cover - omegaconf is a core dependency
                values = dict(base)
        values = {k: v for k, v in values.items() if k in known}
    given = {}
    for key, value in overrides.items():
        key = DECODING_ALIASES.get(key, key)
        if value is None:
            continue
        if key not in known:
            raise ValueError(f"unknown decoding setting {key!r}; known: {', '.join(sorted(known | set(DECODING_ALIASES)))}")
        given[key] = list(value) if key == "hotwords" else value
    cfg = replace(DecodingConfig(**values), **given)
    wants_beam = any(given.get(k) for k in BEAM_ONLY) or int(given.get("nbest", 1) or 1) > 1
    if "name" not in given and cfg.name == "greedy" and wants_beam:
        cfg = replace(cfg, name="ctc_beam")
    if isinstance(cfg.hotwords, str):
        cfg = replace(cfg, hotwords=[cfg.hotwords])
    return cfg


def _decoder_key(cfg: DecodingConfig) -> Tuple:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in sorted(asdict(cfg).items()))


def word_groups(tokens: Sequence[str], ids: Sequence[int]) -> List[List[int]]:
    """Positions in ``ids`` grouped into words: a ``" "`` token separates words (char/jamo tokenizers),
    a token starting with ``"▁"`` begins one (sentencepiece). Space tokens belong to no word."""
    groups: List[List[int]] = []
    current: List[int] = []
    for pos, i in enumerate(ids):
        tok = tokens[i] if 0 <= i < len(tokens) else ""
        if tok == " " or tok.startswith("\u2581"):
            if current:
                groups.append(current)
            current = []
            if tok == " ":
                continue
        current.append(pos)
    if current:
        groups.append(current)
    return groups


# Measured with demo_ko_16k (bench/long_segments.py, README "Long input"): chunking single utterances of
# 2-7 s costs accuracy, chunking windows of several utterances in 4 s pieces gains it.
MAX_CHUNK_S = 8.0  # waves longer than this are run in chunks
CHUNK_S = 4.0
CHUNK_OVERLAP_S = 2.0
SPLIT_OVER_S = 4.0  # waves longer than this are first split at their pauses (0 = never)
SPLIT_PAUSE_S = 0.12  # a pause: at least this long near the wave's noise floor
SPLIT_MIN_PIECE_S = 1.0  # no piece shorter than this

# Audio seconds per forward pass when the caller gives none, by device type. On a CPU a batch of 120 s allocates
# activations of hundreds of MB (the demo models' first subsampling convolution alone ~170 MB), which the C
# allocator maps fresh, page by page, at every pass: the finals of 50 streams (155 s of audio) took 0.40 s in
# batches of 120 s with ~90,000 page faults per pass, 0.31 s in batches of 32 s with none (bench/batch_seconds.py
# and README "Batch size"). GPUs want large batches.
DEFAULT_BATCH_SECONDS = {"cpu": 32.0, "cuda": 120.0}


def default_batch_seconds(device: Any = "cpu") -> float:
    """Audio seconds per forward pass for a model on ``device`` (see ``DEFAULT_BATCH_SECONDS``)."""
    kind = str(device).split(":")[0]
    return DEFAULT_BATCH_SECONDS.get(kind, DEFAULT_BATCH_SECONDS["cuda"])


def pause_cuts(samples: np.ndarray, sample_rate: int, min_pause_s: float = SPLIT_PAUSE_S,
               min_piece_s: float = SPLIT_MIN_PIECE_S, align: int = 1) -> List[int]:
    """Sample positions (multiples of ``align``) in the middle of the pauses of ``samples (S,)``.

    A pause is a run of at least ``min_pause_s`` of 10 ms frames within a few dB of the wave's own noise
    floor (its 5th-percentile frame energy; at most 10 dB, or 30 % of the floor-to-peak range, above it;
    no cuts when the 95th percentile is within 10 dB of the floor), so the rule follows the recording's level and noise. Cuts that would leave a piece shorter than
    ``min_piece_s`` are dropped. Recognizing the pieces separately is what a model trained on single
    utterances does best (bench/long_segments.py): a pause is where no word is lost by cutting.
    """
    from hypersp.inference.vad import frame_energies_db

    e = frame_energies_db(samples, sample_rate)
    if e.size < 3:
        return []
    floor, peak = float(np.percentile(e, 5)), float(np.percentile(e, 95))
    if peak - floor < 10.0:  # no frame clearly quieter than the rest: continuous sound, nothing to cut
        return []
    quiet = e <= floor + min(10.0, 0.3 * (peak - floor))
    hop = int(round(sample_rate * 0.01))
    need = max(1, int(round(min_pause_s / 0.01)))
    edges = np.flatnonzero(np.diff(np.concatenate([[0], quiet.astype(np.int8), [0]])))
    min_piece = int(min_piece_s * sample_rate)
    cuts: List[int] = []
    for a, b in zip(edges[::2], edges[1::2]):  # quiet runs [a, b) in frames
        if b - a < need:
            continue
        cut = int((a + b) // 2 * hop + int(round(sample_rate * 0.015))) // align * align  # frame centre
        if cut - (cuts[-1] if cuts else 0) >= min_piece and samples.size - cut >= min_piece:
            cuts.append(cut)
    return cuts


class Recognizer:
    """A backend (forward pass), a decoder and a VAD: audio in, ``Transcript`` out.

    ``backend.log_probs(waves) -> [(T'_i, V) float32]`` for waves ``(S_i,)`` at ``backend.sample_rate``;
    one output frame covers ``backend.frame_shift_s`` seconds. ``decoding`` is a ``DecodingConfig`` (or
    anything :func:`make_decoding_config` takes); ``vad`` a ``VadConfig``.
    """

    def __init__(self, backend: Any, decoding: Any = None, vad: Optional[VadConfig] = None,
                 batch_seconds: Optional[float] = None, config: Any = None, max_chunk_s: float = MAX_CHUNK_S,
                 chunk_s: float = CHUNK_S, chunk_overlap_s: float = CHUNK_OVERLAP_S,
                 split_over_s: float = SPLIT_OVER_S):
        self.backend = backend
        # A wave longer than max_chunk_s is run through the model in overlapping chunks of chunk_s whose
        # posteriors are stitched (each overlap split in its middle) before decoding: models trained on
        # short utterances decode long windows worse than their parts (bench/long_segments.py). 0 = off.
        self.max_chunk_s = float(max_chunk_s)
        self.chunk_s = float(chunk_s)
        self.chunk_overlap_s = float(chunk_overlap_s)
        # Before that, a wave longer than split_over_s is cut in the middle of its pauses (pause_cuts) and
        # the pieces are run separately: several sentences in one window decode worse than one by one.
        self.split_over_s = float(split_over_s)
        self.tokenizer = backend.tokenizer
        self.sample_rate = int(backend.sample_rate)
        self.frame_shift_s = float(backend.frame_shift_s)
        # audio seconds per forward pass (None: by the backend's device, default_batch_seconds)
        self.batch_seconds = float(batch_seconds or default_batch_seconds(getattr(backend, "device", "cpu")))
        self.vad = vad or VadConfig()  # the config; ``vad_detector`` is the registered VAD it names
        self._vad_built: Optional[Tuple[VadConfig, Any]] = None
        _ = self.vad_detector  # built now, so a missing optional package fails here, not mid-request
        self.config = config  # the checkpoint's resolved config (None for exported models)
        self.decoding = make_decoding_config(decoding)
        self._decoders: Dict[Tuple, Any] = {}
        self.decoder = self.decoder_for()

    # ---- construction --------------------------------------------------------------------
    @classmethod
    def from_checkpoint(cls, name_or_path: str, device: str = "cpu", decoding: Any = None,
                        overrides: Sequence[str] = (), config_files: Sequence[str] = (), runtime: str = "torch",
                        threads: Optional[int] = None, precision: str = "fp32", **kwargs) -> "Recognizer":
        """From a checkpoint file or shipped model name. The checkpoint's config, then a shipped model's defaults
        (``hypersp/pretrained/NAME.decoding.yaml`` and ``NAME.streaming.yaml``, :mod:`hypersp.checkpoint`), then
        ``config_files`` (YAML), then ``overrides`` (``key=value``, e.g. ``vad.max_segment_s=15``) give
        ``decoding.*`` and ``vad.*``; ``decoding`` (a config or dict of fields) is applied last.
        ``runtime``: ``torch`` (the model itself, on ``device``), ``torchscript`` or ``onnxruntime`` (its export,
        made once and cached, on the CPU with ``threads`` threads; :mod:`hypersp.inference.runtimes`).
        ``precision`` (runtime ``torch``): ``fp32``, ``bf16`` or ``fp16`` (CUDA), see ``TorchBackend``."""
        from hypersp.checkpoint import build_from_checkpoint, load_checkpoint, shipped_decoding, shipped_defaults
        from hypersp.inference.runtimes import backend_for, check_precision, check_runtime

        check_precision(precision, check_runtime(runtime, device), device)  # before any work

        state = load_checkpoint(name_or_path)
        defaults = {"decoding": shipped_decoding(name_or_path), "streaming": shipped_defaults(name_or_path, "streaming")}
        if any(defaults.values()):
            config = dict(state["config"])
            for group, fields in defaults.items():
                if fields:
                    config[group] = {**dict(config.get(group) or {}), **fields}
            state = {**state, "config": config}
        comp = build_from_checkpoint(state, overrides=list(overrides), device=device,
                                     config_files=list(config_files))
        given = (asdict(decoding) if is_dataclass(decoding) else dict(decoding)) if decoding is not None else {}
        base = make_decoding_config(comp.cfg.get("decoding"), **given)
        if kwargs.get("vad") is None and comp.cfg.get("vad") is not None:
            from omegaconf import OmegaConf

            kwargs["vad"] = VadConfig(**OmegaConf.to_container(comp.cfg.vad, resolve=True))
        backend = backend_for(comp, state, runtime, device=device, threads=threads, source=str(name_or_path),
                              precision=precision)
        return cls(backend, decoding=base, config=comp.cfg, **kwargs)

    @classmethod
    def from_exported(cls, model_file: str, threads: Optional[int] = None, decoding: Any = None,
                      **kwargs) -> "Recognizer":
        """From an ``hypersp-export`` file and its sidecar (``FILE.json``): ONNX runs on onnxruntime with numpy
        features (no torch needed), TorchScript on torch."""
        from hypersp.inference.backends import open_exported

        return cls(open_exported(model_file, threads=threads), decoding=decoding, **kwargs)

    # ---- compatibility accessors -----------------------------------------------------------
    @property
    def model(self):
        return getattr(self.backend, "model", None)

    @property
    def task(self):
        return getattr(self.backend, "task", None)

    # ---- decoding --------------------------------------------------------------------------
    def decoder_for(self, **overrides: Any):
        """The decoder for this engine's config with ``overrides`` (e.g. ``hotwords=[...]``, ``nbest=4``)."""
        from hypersp.decoding import build_decoder

        cfg = make_decoding_config(self.decoding, **overrides) if overrides else self.decoding
        key = _decoder_key(cfg)
        dec = self._decoders.get(key)
        if dec is None:
            if len(self._decoders) >= 16:  # per-request settings must not grow memory without bound
                self._decoders.pop(next(iter(self._decoders)))
            dec = build_decoder(cfg, self.tokenizer, model=self.model)
            self._decoders[key] = dec
        return dec

    def log_probs(self, waves: Sequence[np.ndarray]) -> List[np.ndarray]:
        """The backend's forward: waves at ``sample_rate`` -> per wave ``(T'_i, V)`` float32 log-posteriors.
        One padded batch; no chunking (see :meth:`chunked_log_probs`)."""
        return self.backend.log_probs(list(waves))

    def chunked_log_probs(self, waves: Sequence[np.ndarray]) -> List[np.ndarray]:
        """As :meth:`log_probs`, but a wave longer than ``split_over_s`` is first cut in the middle of its
        pauses (:func:`pause_cuts`) and its pieces run separately; then any piece longer than
        ``max_chunk_s`` runs as chunks of ``chunk_s`` overlapping by ``chunk_overlap_s``, each overlap split
        in its middle, so every output frame comes from the chunk where it has the most context on both
        sides. The posteriors are concatenated back: one ``(T'_i, V)`` per wave, on the wave's own time
        axis (a cut moves later frames by less than one frame). Pieces of all waves share batches of at
        most ``batch_seconds``."""
        spf = max(1, int(round(self.frame_shift_s * self.sample_rate)))
        pieces: List[np.ndarray] = []
        owner: List[int] = []
        for i, w in enumerate(waves):
            cuts = (pause_cuts(w, self.sample_rate, align=spf)
                    if self.split_over_s > 0 and w.shape[0] > self.split_over_s * self.sample_rate else [])
            bounds = [0] + cuts + [w.shape[0]]
            for a, b in zip(bounds, bounds[1:]):
                pieces.append(w[a:b])
                owner.append(i)
        per_wave: List[List[np.ndarray]] = [[] for _ in waves]
        for k, (i, lp) in enumerate(zip(owner, self._overlap_log_probs(pieces, spf))):
            last = k + 1 == len(owner) or owner[k + 1] != i
            per_wave[i].append(lp if last else lp[: pieces[k].shape[0] // spf])  # cuts are frame-aligned
        return [parts[0] if len(parts) == 1 else np.concatenate(parts) for parts in per_wave]

    def _overlap_log_probs(self, waves: Sequence[np.ndarray], spf: int) -> List[np.ndarray]:
        """Overlapping chunks for waves longer than ``max_chunk_s`` (see :meth:`chunked_log_probs`)."""
        limit = int(self.max_chunk_s * self.sample_rate)
        chunk = int(min(self.chunk_s, self.max_chunk_s) * self.sample_rate) // spf * spf
        overlap = min(int(self.chunk_overlap_s * self.sample_rate) // spf * spf, chunk // 2)
        pieces: List[np.ndarray] = []
        plan: List[List[Tuple[int, int]]] = []  # per wave: (piece index, start sample)
        for w in waves:
            if chunk <= 0 or w.shape[0] <= limit:
                plan.append([(len(pieces), 0)])
                pieces.append(w)
                continue
            starts = list(range(0, max(1, w.shape[0] - overlap), chunk - overlap))
            plan.append([(len(pieces) + j, s) for j, s in enumerate(starts)])
            pieces += [w[s:s + chunk] for s in starts]
        order = sorted(range(len(pieces)), key=lambda i: pieces[i].shape[0])
        outs: List[Optional[np.ndarray]] = [None] * len(pieces)
        budget = int(self.batch_seconds * self.sample_rate)
        i = 0
        while i < len(order):
            j, total = i, 0
            while j < len(order) and (j == i or total + pieces[order[j]].shape[0] <= budget):
                total += pieces[order[j]].shape[0]
                j += 1
            for k, lp in zip(order[i:j], self.log_probs([pieces[k] for k in order[i:j]])):
                outs[k] = lp
            i = j
        result = []
        for parts in plan:
            if len(parts) == 1:
                result.append(outs[parts[0][0]])
                continue
            keep = []
            for n, (k, start) in enumerate(parts):
                lo = 0 if n == 0 else (overlap // 2) // spf
                hi = outs[k].shape[0] if n == len(parts) - 1 else (parts[n + 1][1] - start + overlap // 2) // spf
                keep.append(outs[k][lo:hi])
            result.append(np.concatenate(keep))
        return result

    def decode_text(self, ids: Sequence[int]) -> str:
        return " ".join(self.tokenizer.decode(list(ids)).split())

    def recognize(self, waves: Sequence[np.ndarray], words: bool = True, decoder: Any = None,
                  **decoding: Any) -> List[Segment]:
        """Recognize each wave (``(S_i,)`` float32 at ``sample_rate``) as one segment, batched by duration.

        Returns one ``Segment`` per wave (times relative to the wave's start: 0 .. its duration), with
        words (``words=True``) and the n-best list when the decoder keeps more than one hypothesis."""
        dec = decoder or self.decoder_for(**decoding)
        batch = [np.ascontiguousarray(w, dtype=np.float32) for w in waves]
        if getattr(dec, "needs_model", False):  # attention: the decoder runs the model on whole waves
            out = []
            for i in range(0, len(batch), 8):
                part = batch[i:i + 8]
                feats, lengths = self.backend.features(part)
                with self.backend.autocast():
                    hyps = dec.decode_features(feats, lengths)
                out += self._segments([w.shape[0] for w in part], self.log_probs(part), hyps, words)
            return out
        lps = self.chunked_log_probs(batch)
        want = int(getattr(getattr(dec, "cfg", None), "nbest", 1) or 1) > 1
        return self._segments([w.shape[0] for w in batch], lps, dec.decode_batch(lps), words, want)

    def decode_log_probs(self, log_probs: Sequence[np.ndarray], num_samples: Sequence[int], decoder: Any = None,
                         words: bool = True, searches: Optional[Sequence[Any]] = None) -> List[Segment]:
        """Segments from log-posteriors already computed (``(T'_i, V)``, e.g. by a live stream's cached model)
        for audio of ``num_samples[i]`` samples: the decoder, words and n-best exactly as :meth:`recognize`.
        ``searches[i]`` (optional): ``decoder.incremental()`` already fed the first frames of ``log_probs[i]``
        (or more: frames after the cut of a live utterance); only the rest is searched (the same result). One
        that cannot end where ``log_probs[i]`` does (``finish_at``) is not used."""
        dec = decoder or self.decoder
        want = int(getattr(getattr(dec, "cfg", None), "nbest", 1) or 1) > 1
        lps = [np.ascontiguousarray(lp, dtype=np.float32) for lp in log_probs]

        def nbest_of(lp, search):
            if search is not None:
                if search.frames < lp.shape[0]:
                    search.advance(lp[search.frames:])
                found = search.finish_at(lp.shape[0])
                if found is not None:
                    return found
            return dec.decode(lp)

        found = [nbest_of(lp, s) for lp, s in zip(lps, searches)] if searches else dec.decode_batch(lps)
        return self._segments(num_samples, lps, found, words, want)

    def _segments(self, num_samples: Sequence[int], lps: Sequence[np.ndarray], nbests: Sequence[List[Any]],
                  words: bool, want_nbest: bool = False) -> List[Segment]:
        """One ``Segment`` per utterance of ``num_samples[i]`` samples from its log-posteriors and n-best list; the
        words of all of them come from one batched forced alignment (:meth:`align_words_batch`)."""
        bests = [list(nb[0].ids) if nb else [] for nb in nbests]
        aligned = [i for i, (ids, lp) in enumerate(zip(bests, lps)) if words and ids and lp.shape[0]]
        found = dict(zip(aligned, self.align_words_batch([lps[i] for i in aligned], [bests[i] for i in aligned])))
        out = []
        for i, (n, nbest, ids) in enumerate(zip(num_samples, nbests, bests)):
            best = nbest[0] if nbest else None
            seg = Segment(start=0.0, end=round(int(n) / self.sample_rate, 3), text=self.decode_text(ids),
                          score=round(float(best.score), 4) if best is not None else 0.0)
            if i in found:
                seg.words = found[i]
                for w in seg.words:  # the last output frame may reach past the audio's end
                    w.start, w.end = min(w.start, seg.end), min(w.end, seg.end)
            if nbest and (len(nbest) > 1 or want_nbest):  # asked for: listed even when one hypothesis survived
                seg.nbest = [{"text": self.decode_text(h.ids), "score": round(float(h.score), 4),
                              "acoustic_score": round(float(h.acoustic_score), 4),
                              "lm_score": round(float(h.lm_score), 4)} for h in nbest]
            out.append(seg)
        return out

    def align_words(self, lp: np.ndarray, ids: Sequence[int]) -> List[Word]:
        """Words of ``ids`` with times (seconds from the start of ``lp``'s audio) and confidences, from the
        forced CTC alignment of ``ids`` to ``lp`` (T', V)."""
        return self.align_words_batch([lp], [ids])[0]

    def align_words_batch(self, lps: Sequence[np.ndarray], ids: Sequence[Sequence[int]]) -> List[List[Word]]:
        """:meth:`align_words` of several utterances, aligned together (``ctc_align_batch``). An utterance with
        more tokens than frames (a decoder with an LM may insert), or with ids the CTC output cannot emit (the
        blank, or past its vocabulary), gets no words: no times can be given."""
        from hypersp.decoding.align import ctc_align_batch

        ids = [[int(i) for i in row] for row in ids]
        ok = [k for k, (lp, row) in enumerate(zip(lps, ids)) if all(0 < i < lp.shape[-1] for i in row)]
        spans_of = dict(zip(ok, ctc_align_batch([lps[k] for k in ok], [ids[k] for k in ok])))
        shift = self.frame_shift_s
        out = []
        for k, row in enumerate(ids):
            spans = spans_of.get(k)
            words = []
            for group in word_groups(self.tokenizer.tokens, row) if spans else []:
                text = self.decode_text([row[p] for p in group])
                if not text:
                    continue
                logc = sum(math.log(max(spans[p].confidence, 1e-12)) for p in group) / len(group)
                words.append(Word(text, round(spans[group[0]].start * shift, 3),
                                  round(spans[group[-1]].end * shift, 3), round(math.exp(logc), 4)))
            out.append(words)
        return out

    # ---- whole recordings ----------------------------------------------------------------
    @property
    def vad_detector(self) -> Any:
        """The registered VAD named by ``self.vad.name`` (``hypersp.inference.vads``), built once per config."""
        if self._vad_built is None or self._vad_built[0] != self.vad:
            from hypersp.inference.vads import build_vad

            self._vad_built = (replace(self.vad), build_vad(self.vad))
        return self._vad_built[1]

    def segment(self, samples: np.ndarray) -> List[Tuple[float, float]]:
        """VAD segments (seconds) of ``samples`` at ``sample_rate`` from the VAD named by ``vad.name``; with the
        energy VAD a non-silent input where it finds no pause-delimited region (e.g. a short all-speech clip)
        is one segment."""
        vad = self.vad_detector
        segs = vad.segments(samples, self.sample_rate)
        if not segs and samples.size and vad.whole_when_none:
            e = frame_energies_db(samples, self.sample_rate)
            if e.size and float(e.max()) > self.vad.min_db:
                segs = [(0.0, round(samples.size / self.sample_rate, 3))]
        return segs

    def load(self, audio: Any, sample_rate: Optional[int] = None) -> np.ndarray:
        """Any supported input -> ``(C, S)`` float32 at ``self.sample_rate``."""
        if isinstance(audio, (str, os.PathLike)):
            return load_audio_channels(Path(audio), self.sample_rate)
        if isinstance(audio, (bytes, bytearray, memoryview)):
            return load_audio_channels(io.BytesIO(bytes(audio)), self.sample_rate)
        x = np.asarray(audio)
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        x = x.astype(np.float32, copy=False)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2:
            raise ValueError(f"audio must be samples (S,) or channels (C, S), got shape {x.shape}")
        if x.shape[0] > x.shape[1]:
            raise ValueError(f"audio of shape {x.shape} looks like (S, C); pass channels first: (C, S)")
        return resample(x, int(sample_rate or self.sample_rate), self.sample_rate)

    def transcribe(self, audio: Any, sample_rate: Optional[int] = None, channels: bool = False,
                   segment: bool = True, words: bool = True, progress: Optional[Callable[[float, float], None]] = None,
                   decoder: Any = None, **decoding: Any) -> Transcript:
        """Recognize one recording: a path, file bytes, or float samples ``(S,)``/``(C, S)`` at ``sample_rate``
        (default: the model's; int16 arrays are read as PCM16).

        ``channels=True`` recognizes each channel on its own (segments carry ``channel`` and are merged by
        start time); otherwise channels are mixed down. ``segment=False`` skips the VAD (the input is one
        segment). ``progress(done_s, total_s)`` is called after each batch. Extra keywords are per-call
        decoding settings (``hotwords=[...]``, ``nbest=4``); ``decoder`` passes a prebuilt one instead.
        Segments with empty text are dropped.
        """
        x = self.load(audio, sample_rate)
        dec = decoder or self.decoder_for(**decoding)
        # one channel: the samples themselves (a view; mean() would copy the whole recording for nothing)
        mono = [x[0]] if x.shape[0] == 1 else [x.mean(axis=0)] if not channels else list(x)
        duration = x.shape[1] / float(self.sample_rate)
        spans = [self.segment(m) if segment else ([(0.0, m.size / self.sample_rate)] if m.size else []) for m in mono]
        if segment and len(mono) > 1:  # one speaker per channel: echo of the other party is not a turn
            from hypersp.inference.crosstalk import suppress_crosstalk  # (vad.crosstalk_margin_db <= 0: off)

            spans = suppress_crosstalk(spans, mono, self.sample_rate, self.vad.crosstalk_margin_db, cfg=self.vad)
        segments: List[Segment] = []
        for ch, samples in enumerate(mono):
            segments += self._transcribe_channel(samples, spans[ch], ch, words, dec, progress, duration, len(mono))
        segments.sort(key=lambda s: (s.start, s.channel))
        return Transcript(text=" ".join(s.text for s in segments), segments=segments, duration=duration,
                          sample_rate=self.sample_rate, channels=len(mono))

    def _transcribe_channel(self, x, spans, channel, words, dec, progress, total_s, n_channels) -> List[Segment]:
        pieces = [x[int(s * self.sample_rate): int(e * self.sample_rate)] for s, e in spans]
        out: List[Segment] = []
        step = max(1, int(self.batch_seconds // max(self.vad.max_segment_s, 1.0)))
        for i in range(0, len(pieces), step):
            for (s, _), seg in zip(spans[i:i + step], self.recognize(pieces[i:i + step], words=words, decoder=dec)):
                if seg.text:
                    out.append(self._place(seg, s, channel))
            if progress is not None:
                done = spans[min(i + step, len(spans)) - 1][1]
                progress((channel * total_s + done) / n_channels, total_s)
        return out

    @staticmethod
    def _place(seg: Segment, start: float, channel: int = 0) -> Segment:
        """Shift a segment recognized from a piece that starts ``start`` seconds into the input."""
        seg.start, seg.end, seg.channel = round(start, 3), round(start + seg.end, 3), channel
        for w in seg.words:
            w.start, w.end = round(w.start + start, 3), round(w.end + start, 3)
        return seg

    def transcribe_many(self, waves: Sequence[np.ndarray], decoder: Any = None, words: bool = True) -> List[Transcript]:
        """Several mono recordings (``(S_i,)`` float32 at ``sample_rate``) at once: each is cut by the VAD as
        :meth:`transcribe` does, and all their segments share batches (the streaming server finalizes many
        streams' utterances this way). The same texts as calling ``transcribe`` on each."""
        dec = decoder or self.decoder
        spans = [self.segment(np.asarray(w, dtype=np.float32)) for w in waves]
        rate = self.sample_rate
        pieces = [w[int(s * rate): int(e * rate)] for w, sp in zip(waves, spans) for s, e in sp]
        found = self.recognize(pieces, words=words, decoder=dec) if pieces else []
        out, k = [], 0
        for w, sp in zip(waves, spans):
            segs = [self._place(seg, s) for (s, _), seg in zip(sp, found[k:k + len(sp)]) if seg.text]
            k += len(sp)
            out.append(Transcript(text=" ".join(s.text for s in segs), segments=segs, duration=w.shape[0] / rate,
                                  sample_rate=rate))
        return out

    # ---- streaming ----------------------------------------------------------------------
    def stream(self, input_rate: Optional[int] = None, cfg: Any = None) -> "StreamSession":
        """A live stream: ``accept(pcm)`` -> events, ``finish()`` -> the last events (see ``StreamSession``).

        ``cfg``: a ``StreamingConfig``; by default the checkpoint's own ``streaming`` group (what hypersp-serve
        uses for it too: a model trained for streaming can say ``mode: cached`` there), else the defaults."""
        from hypersp.inference.streaming import StreamingRecognizer

        if cfg is None:
            cfg = self.default_streaming_config()
        key = id(cfg)
        srec = getattr(self, "_streaming", None)
        if srec is None or srec[0] != key:
            self._streaming = (key, StreamingRecognizer(self, cfg))
        return StreamSession(self._streaming[1], input_rate or self.sample_rate)

    def default_streaming_config(self) -> Any:
        """The checkpoint's ``streaming`` config group as a ``StreamingConfig`` (defaults for exported models)."""
        from omegaconf import OmegaConf

        from hypersp.config.schema import StreamingConfig

        if getattr(self, "_default_streaming", None) is None:
            group = self.config.get("streaming") if self.config is not None else None
            self._default_streaming = StreamingConfig(**OmegaConf.to_container(group, resolve=True)) if group \
                else StreamingConfig()
        return self._default_streaming


class StreamSession:
    """One live stream for Python users (the server drives ``StreamingRecognizer`` directly, batched).

    ``accept(chunk)``: PCM16 (int16 array or little-endian bytes) or float32 samples in [-1, 1] at the
    stream's ``input_rate``, any length; returns the events it produced: partials ``{"text", "final":
    False}`` and finals ``{"text", "final": True, "words", "start", "end", ...}``. ``finish()`` ends the
    current utterance and returns its final (always one, possibly with empty text).
    """

    def __init__(self, streaming, input_rate: int):
        self.streaming = streaming
        self.stream = streaming.new_stream(input_rate)

    def accept(self, chunk: Any) -> List[Dict[str, Any]]:
        if isinstance(chunk, (bytes, bytearray, memoryview)):
            buf = bytes(chunk)
            if len(buf) % 2:
                raise ValueError(f"PCM16 bytes must come in pairs; got {len(buf)} bytes")
            chunk = np.frombuffer(buf, dtype="<i2")
        x = np.asarray(chunk)
        if x.dtype == np.int16:
            x = x.astype(np.float32) / 32768.0
        self.stream.accept(x.astype(np.float32, copy=False))
        events: List[Dict[str, Any]] = []
        while self.stream.ready():
            events += self.streaming.decode([self.stream])[0]
        return events

    def finish(self) -> List[Dict[str, Any]]:
        return self.streaming.decode([self.stream], force_final=[True])[0]
