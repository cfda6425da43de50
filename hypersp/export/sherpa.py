"""Export a CTC model as a folder that sherpa-onnx loads as it is: ``model.onnx`` + ``tokens.txt``.

    hypersp-export --checkpoint runs/kaldi/best.pt --format sherpa-onnx --out export/sherpa
    # then, with the sherpa-onnx pip package:
    sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(model="export/sherpa/model.onnx",
        tokens="export/sherpa/tokens.txt", sample_rate=16000, feature_dim=80)

Which sherpa-onnx model type, and why: sherpa-onnx's ``zipformer2_ctc`` type (``from_zipformer_ctc``)
runs any graph ``(features (B, T, F) float32, lengths (B,) int64) -> (log_probs (B, T', V),
out_lengths (B,) int64)`` — hypersp's own export contract — and feeds it kaldi-native-fbank features
with that library's defaults (povey window, DC removal, pre-emphasis 0.97, 20 Hz .. Nyquist - 400 Hz,
``snip_edges=false``, dither 0, samples in [-1, 1]), without any normalization; it reads the vocabulary
size from the output shape and the blank from ``tokens.txt``. Its NeMo CTC type would instead compute
a librosa-style (Hann, Slaney) front end, transpose the input to (B, F, T) and take ``T // factor`` as
the output lengths, which is not what hypersp computes.

So the export requires a model trained with the Kaldi fbank front end
(:func:`hypersp.audio.config.kaldi_fbank_features`, ``-c examples/synthetic/conf/kaldi_fbank.yaml``):
anything else would run in sherpa-onnx on features the model never saw, so it is refused with the
keys to change (:func:`sherpa_feature_mismatches`). hypersp's per-utterance normalization, which
sherpa-onnx does not apply for this model type, is the first step of the exported graph.

``model.onnx`` carries sherpa-onnx's usual metadata (``model_type``, ``vocab_size``,
``subsampling_factor``, ``normalize_type`` = "" as nothing is left for sherpa-onnx to normalize)
plus hypersp's (sample rate, feature dim, front end, source checkpoint, version). ``tokens.txt``
is ``SYMBOL ID`` per line; hypersp's word boundary (a space) is written ``▁`` (U+2581), which
sherpa-onnx turns back into a space; the blank ``<blank>`` keeps id 0.

sherpa-onnx's greedy search is the plain best path (argmax per frame, repeats and blanks removed),
equal to hypersp's ``best_path`` on the same log-probs. hypersp's ``greedy`` decoder differs only for
jamo vocabularies, where it repairs a best path whose jamo do not form syllables; there sherpa-onnx's
text is conjoining jamo with orphans left in (the summary carries a ``note``). A char (syllable)
tokenizer has nothing to repair: both give the same text.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Dict, List, Sequence

import torch

from hypersp.audio.config import KALDI_LOG_FLOOR, kaldi_fbank_features
from hypersp.audio.features import normalize_per_utterance
from hypersp.audio.features_numpy import resolve_feature_params
from hypersp.export.export import DEFAULT_OPSET, CTCGraph, export_model
from hypersp.export.sidecar import ExportError

SHERPA_MODEL_TYPE = "zipformer2_ctc"
SHERPA_SPACE = "\u2581"  # sherpa-onnx's SymbolTable turns a leading U+2581 back into a space
MODEL_FILE = "model.onnx"
JAMO_NOTE = ("jamo vocabulary: sherpa-onnx writes conjoining jamo (NFC-normalize its text to get syllables) and its "
             "greedy search is hypersp's plain best path, without the greedy decoder's jamo repair; a char "
             "(syllable) tokenizer gives final text and the same greedy output in both")
TOKENS_FILE = "tokens.txt"


class SherpaCTCGraph(CTCGraph):
    """``(raw log-mel features (B,T,F), lengths (B,)) -> (log_probs, out_lengths)``: hypersp's
    per-utterance normalization (when the model was trained with it), then the model."""

    def __init__(self, model: torch.nn.Module, normalize: bool = True):
        super().__init__(model)
        self.normalize = bool(normalize)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor):
        if self.normalize:
            features = normalize_per_utterance(features, lengths)
        return super().forward(features, lengths)


def sherpa_feature_mismatches(features: Any) -> List[str]:
    """What in ``features`` (a task's ``FeatureConfig``) differs from what sherpa-onnx computes.

    Returns ``["task.features.KEY=have (sherpa-onnx: want)", ...]``; empty when the model's front end is
    kaldi-native-fbank's default fbank at the model's sample rate and mel count. Compared on the
    resolved values (samples, Hz), so ``f_max=-400`` and ``f_max=7600`` at 16 kHz are the same.
    """
    have = resolve_feature_params(features)
    want = resolve_feature_params(kaldi_fbank_features(have.sample_rate, have.n_mels))
    shown = kaldi_fbank_features()  # the wanted values as they are written in a config
    problems = []
    for key, a, b in (("kaldi_compatible", have.kaldi_compatible, True),
                      ("snip_edges", have.snip_edges, False),
                      ("win_ms", have.win_length, want.win_length),
                      ("hop_ms", have.hop_length, want.hop_length),
                      ("n_fft", have.n_fft, want.n_fft),
                      ("f_min", have.f_min, want.f_min),
                      ("f_max", have.f_max, want.f_max),
                      ("preemphasis", have.preemphasis, want.preemphasis)):
        same = math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6) if isinstance(b, float) else a == b
        if not same:
            problems.append(f"task.features.{key}={getattr(features, key)} (sherpa-onnx: {getattr(shown, key)})")
    if not math.isclose(have.log_floor, KALDI_LOG_FLOOR, rel_tol=1e-3):
        problems.append(f"task.features.log_floor={features.log_floor} (sherpa-onnx: {KALDI_LOG_FLOOR})")
    return problems


def tokens_txt(tokens: Sequence[str]) -> str:
    """sherpa-onnx's ``tokens.txt`` for a hypersp vocabulary (index = id, id 0 the blank).

    A space token becomes ``▁``; any other symbol containing whitespace (or empty) cannot be written
    in this format and is an ``ExportError``, as is ``▁`` in a vocabulary that also has a space.
    """
    lines, seen = [], set()
    for i, tok in enumerate(tokens):
        sym = SHERPA_SPACE if tok == " " else tok
        if not sym or any(c.isspace() for c in sym):
            raise ExportError(f"token {i} ({tok!r}) contains whitespace: tokens.txt cannot hold it")
        if sym in seen:
            raise ExportError(f"token {i} ({tok!r}) would be written as {sym!r}, which another token already is")
        seen.add(sym)
        lines.append(f"{sym} {i}\n")
    return "".join(lines)


def _add_metadata(path: Path, meta: Dict[str, Any]) -> None:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


def export_sherpa_onnx(comp: Any, out_dir: str | Path, source: str = "", opset: int = DEFAULT_OPSET
                       ) -> Dict[str, Any]:
    """Write ``out_dir/model.onnx`` and ``out_dir/tokens.txt`` for ``comp`` (``hypersp.checkpoint.Components``).

    Raises ``ExportError`` when the model's front end is not what sherpa-onnx computes (naming the
    keys), or when a token cannot be written. Returns a summary (files, sample rate, feature dim,
    how to load it).
    """
    from hypersp import __version__

    features = comp.task.cfg.features
    problems = sherpa_feature_mismatches(features)
    if problems:
        raise ExportError("sherpa-onnx computes kaldi-native-fbank's default fbank, and this model was trained "
                          "on other features: " + "; ".join(problems) + ". Train with the Kaldi fbank front end "
                          "(-c examples/synthetic/conf/kaldi_fbank.yaml) to export for sherpa-onnx")
    if features.normalize not in ("per_utterance", "none"):
        raise ExportError(f"features.normalize={features.normalize!r} cannot be exported for sherpa-onnx")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tokens = tokens_txt(comp.tokenizer.tokens)  # checked before the (slower) export
    if len(comp.tokenizer.tokens) != int(comp.task.vocab_size):
        raise ExportError(f"tokenizer has {len(comp.tokenizer.tokens)} tokens, the model "
                          f"{comp.task.vocab_size} outputs")
    model_path = out_dir / MODEL_FILE
    normalize = features.normalize == "per_utterance"
    export_model(comp.model, "onnx", model_path, input_dim=comp.task.input_dim, opset=opset,
                 graph=lambda m: SherpaCTCGraph(m, normalize=normalize))
    sample_rate, feature_dim = int(comp.task.sample_rate), int(comp.task.input_dim)
    meta = {
        "model_type": SHERPA_MODEL_TYPE,
        "vocab_size": int(comp.task.vocab_size),
        "subsampling_factor": int(comp.model.subsampling_factor),
        "normalize_type": "",  # normalization is inside the graph
        "sample_rate": sample_rate,
        "feature_dim": feature_dim,
        "frontend": "kaldi-native-fbank defaults (povey, snip_edges=false, 20 Hz..Nyquist-400 Hz), "
                    + ("per-utterance normalization in the graph" if normalize else "no normalization"),
        "blank_id": 0,
        "model": str(comp.cfg.model.name),
        "source_checkpoint": str(source),
        "hypersp_version": __version__,
        "comment": "exported by hypersp-export --format sherpa-onnx; load with "
                   "sherpa_onnx.OfflineRecognizer.from_zipformer_ctc",
    }
    _add_metadata(model_path, meta)
    tokens_path = out_dir / TOKENS_FILE
    tokens_path.write_text(tokens, encoding="utf-8")
    summary = {
        "model_format": "sherpa-onnx",
        "model": str(model_path),
        "tokens": str(tokens_path),
        "sample_rate": sample_rate,
        "feature_dim": feature_dim,
        "vocab_size": meta["vocab_size"],
        "subsampling_factor": meta["subsampling_factor"],
        "load": f"sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(model={str(model_path)!r}, "
                f"tokens={str(tokens_path)!r}, sample_rate={sample_rate}, feature_dim={feature_dim})",
    }
    if any("\u1100" <= ch <= "\u11ff" for tok in comp.tokenizer.tokens for ch in tok):
        summary["note"] = JAMO_NOTE
    return summary
