"""hypersp-eval: score a checkpoint on a manifest.

    hypersp-eval --checkpoint runs/quickstart/best.pt --manifest data/synthetic/test.jsonl --output-json result.json
    hypersp-eval --checkpoint CKPT --manifest test.jsonl --decoding ctc_beam --beam-size 16 \
        --lm data/lm/word3.arpa --lm-weight 0.5 --word-bonus 1.0 --hotword 서울역 --nbest 4

CKPT is a path or the name of a shipped model. Prints one JSON object: cer (percent, spaces
removed), cer_with_spaces, wer, num_utterances, audio_seconds, rtf, and the normalizers used.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import add_common_args, load_requested_plugins, print_components, run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-eval", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint file or shipped model name")
    p.add_argument("--manifest", help="NeMo-style JSON-lines manifest to score")
    p.add_argument("--output-json", metavar="OUT", help="also write the result to this file")
    p.add_argument("--hypotheses", metavar="OUT.jsonl", help="write per-utterance ref/hyp lines here")
    p.add_argument("--scoring-normalizer", default=None,
                   help="normalizer applied to ref and hyp before scoring (default: the task's task.scoring_normalizer)")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--batch-seconds", type=float, default=120.0, help="audio seconds per batch")
    p.add_argument("--num-workers", type=int, default=0)
    d = p.add_argument_group("decoding (default: the checkpoint's decoding config, greedy)")
    d.add_argument("--decoding", choices=("greedy", "ctc_beam", "attention"), help="decoder")
    d.add_argument("--beam-size", type=int, help="beam width (ctc_beam, attention)")
    d.add_argument("--nbest", type=int, help="hypotheses kept per utterance; >1 adds 'nbest' to --hypotheses lines")
    d.add_argument("--lm", metavar="LM.arpa", help="ARPA n-gram LM for ctc_beam shallow fusion (hypersp-prepare lm)")
    d.add_argument("--lm-weight", type=float, help="LM weight (ctc_beam)")
    d.add_argument("--word-bonus", type=float, help="score added per word (ctc_beam)")
    d.add_argument("--hotword", action="append", default=[], metavar="WORD", help="word/phrase to boost (repeatable)")
    d.add_argument("--hotword-weight", type=float, help="bonus per matched hotword token")
    d.add_argument("--ctc-weight", type=float, help="CTC prefix-score weight (attention)")
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides applied to the checkpoint's config")
    return p


def decoding_config(cfg, args):
    """The checkpoint's ``decoding`` group (or defaults) with the command-line decoding options applied."""
    from omegaconf import OmegaConf

    from hypersp.config.schema import DecodingConfig

    decoding = OmegaConf.merge(OmegaConf.structured(DecodingConfig), cfg.get("decoding") or {})
    given = {"name": args.decoding, "beam_size": args.beam_size, "nbest": args.nbest, "lm_path": args.lm,
             "lm_weight": args.lm_weight, "word_bonus": args.word_bonus, "hotword_weight": args.hotword_weight,
             "ctc_weight": args.ctc_weight}
    for key, value in given.items():
        if value is not None:
            decoding[key] = value
    if args.hotword:
        decoding.hotwords = list(args.hotword)
    if args.decoding is None and decoding.name == "greedy" and (args.lm or args.hotword or args.beam_size):
        decoding.name = "ctc_beam"  # an LM, hotwords or a beam only make sense with beam search
    return decoding


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
        import torch

        from hypersp.inference.evaluate import evaluate
        from hypersp.text.normalize import get_scoring_normalizer
        from hypersp.train.build import build_from_checkpoint
        from hypersp.train.checkpoint import load_checkpoint, resolve_checkpoint

        device = torch.device(args.device)
        state = load_checkpoint(args.checkpoint)
        overrides = list(args.overrides) + [f"task.num_workers={args.num_workers}"]
        comp = build_from_checkpoint(state, overrides=overrides, device=device)
        scoring = args.scoring_normalizer or comp.cfg.task.scoring_normalizer
        normalizer = get_scoring_normalizer(scoring)
        dataset = comp.task.dataset(args.manifest, train=False)
        loader = comp.task.dataloader(dataset, train=False, batch_seconds=args.batch_seconds)
        decoding = decoding_config(comp.cfg, args)
        result = evaluate(comp.model, comp.task, loader, device, normalizer, keep_hypotheses=bool(args.hypotheses),
                          decoding=decoding)
        hyps = result.pop("hypotheses", None)
        result = {
            **result,
            "checkpoint": str(resolve_checkpoint(args.checkpoint)),
            "manifest": args.manifest,
            "text_normalizer": comp.cfg.task.text_normalizer,
            "scoring_normalizer": scoring,
            "decoding": decoding.name,
        }
        if decoding.name != "greedy":
            from omegaconf import OmegaConf

            result["decoding_config"] = OmegaConf.to_container(decoding)
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
        return 0

    return run("hypersp-eval", body)


if __name__ == "__main__":
    sys.exit(main())
