"""Same model, same audio: CER in hypersp vs in sherpa-onnx (greedy CTC both), printed as JSON.

    python bench/sherpa_onnx_parity.py --checkpoint runs/kaldi/best.pt --manifest data/synthetic/test.jsonl \
        --export-dir export/sherpa [--threads 1]

1. exports the checkpoint with ``hypersp.export.sherpa.export_sherpa_onnx`` (model.onnx + tokens.txt; the
   model must use the Kaldi fbank front end, ``-c examples/synthetic/conf/kaldi_fbank.yaml``);
2. hypersp: ``hypersp.load(checkpoint, decoding="greedy")`` scored by ``evaluate_manifest``, exactly what
   ``hypersp-eval --decoding greedy`` does (PyTorch, batched);
3. sherpa-onnx: ``OfflineRecognizer.from_zipformer_ctc`` on the export, one stream per utterance, fed the
   same samples (read and resampled by hypersp); its text is NFC-normalized (a jamo model's conjoining
   jamo become syllables) and scored with the same normalizers and ``hypersp.metrics.ErrorRates``.

Prints the two CERs (spaces removed, as hypersp reports), their difference, how many hypotheses are
identical, and each side's wall time. hypersp's ``greedy`` decoder repairs a best path whose jamo do not
form syllables (``hypersp.decoding.greedy``), which sherpa-onnx's greedy search does not; so the script
also scores hypersp's plain best path (``best_path`` on the same log-probs, no repair): for a jamo model
that is the like-for-like figure, for a char model the two hypersp figures are the same.
Needs the ``export`` and ``sherpa`` extras.
"""
from __future__ import annotations

import argparse
import json
import time
import unicodedata
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--manifest", required=True)
    p.add_argument("--export-dir", required=True, help="folder for model.onnx and tokens.txt")
    p.add_argument("--threads", type=int, default=1, help="sherpa-onnx threads (torch: set OMP_NUM_THREADS)")
    p.add_argument("--show", type=int, default=5, help="differing hypotheses to print")
    args = p.parse_args()

    import sherpa_onnx

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.checkpoint import build_from_checkpoint, load_checkpoint
    from hypersp.data.manifest import read_manifest
    from hypersp.decoding.greedy import best_path
    from hypersp.export.sherpa import export_sherpa_onnx
    from hypersp.inference.evaluate import evaluate_manifest
    from hypersp.metrics import ErrorRates
    from hypersp.text.hangul import normalize_spaces
    from hypersp.text.normalize import get_scoring_normalizer, get_text_normalizer

    comp = build_from_checkpoint(load_checkpoint(args.checkpoint), device="cpu")
    export = export_sherpa_onnx(comp, Path(args.export_dir), source=args.checkpoint)
    task_cfg = comp.cfg.task
    text_norm = get_text_normalizer(task_cfg.text_normalizer)
    scoring_name = task_cfg.scoring_normalizer
    scoring = get_scoring_normalizer(scoring_name)

    engine = hypersp.load(args.checkpoint, decoding="greedy")
    start = time.perf_counter()
    ours = evaluate_manifest(engine, args.manifest, text_norm, scoring, keep_hypotheses=True)
    hypersp_seconds = time.perf_counter() - start
    our_hyps = {h["utt_id"]: h["hyp"] for h in ours["hypotheses"]}

    recognizer = sherpa_onnx.OfflineRecognizer.from_zipformer_ctc(
        model=export["model"], tokens=export["tokens"], num_threads=args.threads,
        sample_rate=export["sample_rate"], feature_dim=export["feature_dim"], decoding_method="greedy_search")
    scores, plain_scores = ErrorRates(normalize=scoring), ErrorRates(normalize=scoring)
    rate = export["sample_rate"]
    identical, identical_plain, differing = 0, 0, []
    sherpa_seconds = 0.0
    for e in read_manifest(args.manifest):
        wave = load_audio(e.audio_filepath, rate, offset=e.offset, duration=e.duration if e.offset else 0.0)
        start = time.perf_counter()
        stream = recognizer.create_stream()
        stream.accept_waveform(rate, wave)
        recognizer.decode_stream(stream)
        sherpa_seconds += time.perf_counter() - start
        hyp = normalize_spaces(unicodedata.normalize("NFC", stream.result.text))
        scores.update(text_norm(e.text), hyp)
        plain = engine.decode_text(best_path(engine.log_probs([wave])[0])[0])
        plain_scores.update(text_norm(e.text), plain)
        identical_plain += hyp == plain
        if hyp == our_hyps.get(e.utt_id):
            identical += 1
        else:
            differing.append({"utt_id": e.utt_id, "hypersp": our_hyps.get(e.utt_id), "hypersp_best_path": plain,
                              "sherpa_onnx": hyp})
    theirs, plain_result = scores.result(), plain_scores.result()
    print(json.dumps({
        "checkpoint": args.checkpoint,
        "manifest": args.manifest,
        "utterances": theirs["num_utterances"],
        "audio_seconds": ours["audio_seconds"],
        "scoring_normalizer": scoring_name,
        "cer_hypersp": ours["cer"],
        "cer_sherpa_onnx": theirs["cer"],
        "cer_difference": round(theirs["cer"] - ours["cer"], 3),
        "cer_hypersp_best_path": plain_result["cer"],
        "cer_difference_best_path": round(theirs["cer"] - plain_result["cer"], 3),
        "wer_hypersp": ours["wer"],
        "wer_sherpa_onnx": theirs["wer"],
        "identical_hypotheses": identical,
        "identical_to_best_path": identical_plain,
        "hypersp_seconds": round(hypersp_seconds, 2),
        "sherpa_onnx_seconds": round(sherpa_seconds, 2),
        "sherpa_onnx_version": getattr(sherpa_onnx, "__version__", "?"),
        "differing_examples": differing[: args.show],
    }, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
