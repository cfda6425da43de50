"""Build a small n-gram language model in ARPA format (routed as ``hypersp-prepare lm``).

    hypersp-prepare lm --manifest data/synthetic/train.jsonl --out data/lm/word3.arpa --order 3
    hypersp-prepare lm --text corpus.txt --out char6.arpa --order 6 --unit char
    hypersp-prepare lm --text pool.txt --out jamo6.arpa.gz --order 6 --unit jamo --prune 2

Interpolated Kneser-Ney (see ``hypersp.decoding.ngram``). ``--unit word`` models space-separated
words (for CTC beam search with any tokenizer); ``char`` / ``jamo`` model characters / jamo
(with ``<sp>`` for the space) and are applied per token, for the char / jamo tokenizers.
Text is normalized with ``--text-normalizer`` (use the task's ``text_normalizer`` so that the LM
sees the same spelling as the model's targets). ``--prune N`` drops n-grams of order 3 and above
seen fewer than N times (``2``: singletons; ``2,3``: 2 for order 3, 3 for order 4 and above) and
renormalizes the model. An ``--out`` name ending in ``.gz`` is written gzip-compressed (every reader
of hypersp takes ``.arpa.gz``). Prints a JSON summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import List, Optional

from hypersp_cli.common import run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-prepare lm", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("text (at least one)")
    src.add_argument("--text", action="append", default=[], help="plain text file, one sentence per line")
    src.add_argument("--manifest", action="append", default=[], help="JSON-lines manifest; its 'text' fields are used")
    p.add_argument("--out", required=True, help="output .arpa file")
    p.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    p.add_argument("--unit", choices=("word", "char", "jamo"), default="word")
    p.add_argument("--text-normalizer", default="basic", help="normalizer applied to every sentence first")
    p.add_argument("--prune", default="", metavar="N[,N...]",
                   help="drop n-grams of order >= 3 seen fewer than N times (one N per order from 3, "
                        "non-decreasing, the last repeated; default: no pruning)")
    return p


def _refuse_manifest_as_text(path: str, first_lines: List[str]) -> None:
    """``--text`` takes plain sentences, one per line. A manifest given there would silently become an LM of
    JSON syntax (``{"audio_filepath": ...``), so it is refused with the flag that reads it."""
    from hypersp.config import ConfigError

    for line in first_lines:
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict) and ("text" in record or "audio_filepath" in record):
            raise ConfigError(f"--text {path}: this is a manifest (JSON lines with audio_filepath/text), not plain "
                              f"text; give it as --manifest {path}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.text and not args.manifest:
        parser.error("give --text FILE and/or --manifest FILE")
    try:
        prune = [int(v) for v in args.prune.split(",") if v.strip()] if args.prune else []
        from hypersp.decoding.ngram import prune_thresholds

        prune_thresholds(prune, max(args.order, 3))
    except ValueError as err:
        parser.error(f"--prune {args.prune!r}: {err}")

    def body() -> int:
        from hypersp.data.manifest import read_manifest
        from hypersp.decoding.ngram import build_arpa
        from hypersp.text.normalize import get_text_normalizer

        normalize = get_text_normalizer(args.text_normalizer)
        sentences: List[str] = []
        for path in args.text:
            if not Path(path).is_file():
                raise FileNotFoundError(f"--text {path!r} does not exist")
            with open(path, encoding="utf-8") as f:
                lines = [line for line in f if line.strip()]
            _refuse_manifest_as_text(path, lines[:5])
            sentences += [normalize(line) for line in lines]
        for path in args.manifest:
            sentences += [normalize(e.text) for e in read_manifest(path)]
        start = time.perf_counter()
        lm = build_arpa(sentences, order=args.order, unit=args.unit, prune=prune)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        lm.save(args.out)
        print(json.dumps({"out": args.out, "order": lm.order, "unit": args.unit, "sentences": len(sentences),
                          "ngrams": {str(n): len(v) for n, v in lm.ngrams.items()}, "smoothing": "interpolated Kneser-Ney",
                          "prune": {str(n): t for n, t in prune_thresholds(prune, lm.order).items()},
                          "bytes": Path(args.out).stat().st_size,
                          "seconds": round(time.perf_counter() - start, 2)}, ensure_ascii=False, indent=2))
        return 0

    return run("hypersp-prepare lm", body)


if __name__ == "__main__":
    sys.exit(main())
