"""hypersp-eval: score a checkpoint on a manifest.

    hypersp-eval --checkpoint runs/quickstart/best.pt --manifest data/synthetic/test.jsonl --output-json result.json
    hypersp-eval --checkpoint CKPT --manifest test.jsonl --decoding ctc_beam --beam-size 16 \
        --lm data/lm/word3.arpa --lm-weight 0.5 --word-bonus 1.0 --hotword 서울역 --nbest 4
    hypersp-eval --checkpoint demo_ko_16k --manifest written.jsonl --score-display   # "오후 3시에 뵙겠습니다."

CKPT is a path or the name of a shipped model. Prints one JSON object: cer (percent, spaces
removed), cer_with_spaces, wer, num_utterances, audio_seconds, rtf, and the normalizers used.
By default the spoken form is scored (references through the task's text normalizer). --score-display
scores the display form (written numbers, punctuation, corrected spacing; hypersp.text.display) against
written-form references: the manifest's text with digits and marks, taken as it is; add
--scoring-normalizer korean_cer_keep_digits to leave punctuation out of the score.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import (add_common_args, add_decoding_args, add_runtime_arg, decoding_settings,
                                load_requested_plugins, print_components, run)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint file or shipped model name")
    p.add_argument("--manifest", help="NeMo-style JSON-lines manifest to score")
    p.add_argument("--output-json", metavar="OUT", help="also write the result to this file")
    p.add_argument("--hypotheses", metavar="OUT.jsonl", help="write per-utterance ref/hyp lines here")
    p.add_argument("--scoring-normalizer", default=None,
                   help="normalizer applied to ref and hyp before scoring (default: the task's task.scoring_normalizer)")
    p.add_argument("--score-display", action="store_true",
                   help="score the display form (3시에 ... .) against written-form references (digits, marks) "
                        "in the manifest's text, instead of the spoken form")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--batch-seconds", type=float, default=None,
                   help="audio seconds per batch (default: 32 on a CPU, 120 on a GPU)")
    p.add_argument("--num-workers", type=int, default=0, help="(unused; kept for old scripts: audio is read in-process)")
    p.add_argument("--segment", action="store_true",
                   help="cut each utterance by the VAD before recognizing it, as the offline server does")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--breakdown", action="store_true",
                   help="also print the error breakdown (S/D/I, CER by speaker, domain, length; worst utterances) "
                        "as a table on stderr (it is always in the JSON)")
    add_runtime_arg(p)
    add_decoding_args(p)
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to the checkpoint's config")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components()
            return 0
        if not args.checkpoint or not args.manifest:
            parser.error("--checkpoint and --manifest are required")
        import hypersp
        from hypersp.inference.evaluate import evaluate_manifest
        from hypersp.text.normalize import get_scoring_normalizer, get_text_normalizer
        from hypersp.checkpoint import resolve_checkpoint

        # The same engine as hypersp.load(...).transcribe, hypersp-transcribe and the server.
        rec = hypersp.load(args.checkpoint, device=args.device, overrides=list(args.overrides),
                           batch_seconds=args.batch_seconds, runtime=args.runtime, precision=args.precision,
                           **decoding_settings(args))
        task_cfg = rec.config.task if rec.config is not None and rec.config.get("task") is not None else None
        text_norm = task_cfg.text_normalizer if task_cfg is not None else "basic"
        scoring = args.scoring_normalizer or (task_cfg.scoring_normalizer if task_cfg is not None else "basic")
        decoding = rec.decoding
        result = evaluate_manifest(rec, args.manifest, get_text_normalizer(text_norm), get_scoring_normalizer(scoring),
                                   segment=args.segment, batch_seconds=args.batch_seconds,
                                   keep_hypotheses=bool(args.hypotheses), progress=not args.no_progress,
                                   score_display=args.score_display)
        hyps = result.pop("hypotheses", None)
        result = {
            **result,
            "checkpoint": str(args.checkpoint if str(args.checkpoint).endswith(".onnx")
                              else resolve_checkpoint(args.checkpoint)),
            "manifest": args.manifest,
            "segmented": bool(args.segment),
            "scored_form": "display" if args.score_display else "spoken",
            "text_normalizer": "none (written-form references)" if args.score_display else text_norm,
            "scoring_normalizer": scoring,
            "decoding": decoding.name,
            "runtime": args.runtime,
            "precision": args.precision,
        }
        if decoding.name != "greedy":
            from dataclasses import asdict

            result["decoding_config"] = asdict(decoding)
        text = json.dumps(result, ensure_ascii=False, indent=2)
        print(text)
        if args.output_json:
            Path(args.output_json).write_text(text + "\n", encoding="utf-8")
        if hyps is not None:
            with open(args.hypotheses, "w", encoding="utf-8") as f:
                for h in hyps:
                    f.write(json.dumps(h, ensure_ascii=False) + "\n")
        print(f"CER {result['cer']:.2f}% (spaces removed; with spaces {result['cer_with_spaces']:.2f}%), "
              f"WER {result['wer']:.2f}% on {result['num_utterances']} utterances, {result['audio_seconds']:.1f} s audio, "
              f"RTF {result['rtf']:.4f}; scoring normalizer '{scoring}'", file=sys.stderr)
        if result.get("skipped"):
            print(f"WARNING: {result['skipped']} utterance(s) skipped (unreadable or empty audio), not scored: "
                  + "; ".join(result.get("skipped_examples", [])[:3]), file=sys.stderr)
        if args.breakdown:
            from hypersp.metrics import format_breakdown

            print(format_breakdown(result["breakdown"]), file=sys.stderr)
        return 0

    return run("hypersp-eval", body)


if __name__ == "__main__":
    sys.exit(main())
