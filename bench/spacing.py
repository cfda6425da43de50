"""Benchmark: does spacing correction help? CER with spaces and WER before and after (prints JSON).

Input: ``hypersp-eval --hypotheses OUT.jsonl`` files (one ``{"utt_id", "ref", "hyp"}`` per line; the
references are spoken-form, spaced as hypersp's sentence generator spaces them). Each hypothesis is scored
as it is (``none``), after the ``kiwi`` spacer in ``attach`` mode (the default: join split-off particles
and endings) and in ``full`` mode (``Kiwi.space``). CER without spaces cannot change (the spacer only
moves spaces) and is reported as a check. ``refs_through_spacer_wer``: WER of the references passed through
the spacer against themselves, how far the spacer's conventions are from the references'.

    hypersp-eval --checkpoint demo_ko_16k --manifest /tmp/dec_eval/test.jsonl --hypotheses in_vocab.jsonl
    hypersp-eval --checkpoint demo_ko_16k --manifest data/open_test/16k/test.jsonl --hypotheses open.jsonl
    python bench/spacing.py in_vocab.jsonl open.jsonl
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable, Dict, List

from hypersp.metrics import ErrorRates
from hypersp.text.spacing import get_spacer


def score(lines: List[Dict[str, str]], fix: Callable[[str], str]) -> Dict[str, float]:
    hyps, refs = ErrorRates(), ErrorRates()
    start = time.perf_counter()
    for line in lines:
        hyps.update(line["ref"], fix(line["hyp"]))
    ms = 1000.0 * (time.perf_counter() - start) / max(len(lines), 1)
    for line in lines:
        refs.update(line["ref"], fix(line["ref"]))
    return {**hyps.result(), "refs_through_spacer_wer": refs.result()["wer"], "ms_per_utterance": round(ms, 3)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("hypotheses", nargs="+", help="hypersp-eval --hypotheses files")
    args = p.parse_args()
    t0 = time.perf_counter()
    spacers = {"attach": get_spacer("kiwi", mode="attach"), "full": get_spacer("kiwi", mode="full")}
    spacers["attach"]("워밍 업")  # load the analyzer outside the timings
    load_s = time.perf_counter() - t0
    out = {"analyzer_load_s": round(load_s, 2), "files": {}}
    for path in args.hypotheses:
        with open(path, encoding="utf-8") as f:
            lines = [json.loads(x) for x in f if x.strip()]
        result = {"none": score(lines, lambda t: t)}
        result.update({name: score(lines, s) for name, s in spacers.items()})
        out["files"][path] = result
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
