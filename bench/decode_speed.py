"""Benchmark: CTC decoding speed on one CPU core (prints JSON).

A 10-second utterance = 1000 output frames at 10 ms over a 70-symbol vocabulary (the jamo
tokenizer: blank, space, 67 jamo, "."), with synthetic CTC posteriors shaped like a trained
model's: ~140 tokens of a Korean sentence, each peaked on 1-3 frames (sometimes with a
confusable runner-up), blank elsewhere (blank probability 0.99-0.99999). Decoders, all in the
same run: greedy (the baseline), CTC prefix beam search with beam 16, without and with a word
3-gram LM (built from 400 generated sentences), with hotwords, and without blank skipping (the
worst case: every frame searched). Times are the median of ``--repeats`` runs, each with a
cold LM cache.

    python bench/decode_speed.py [--repeats 5] [--beam 16] [--frames 1000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hypersp.decoding.ctc_beam import CTCBeamSearch  # noqa: E402
from hypersp.decoding.greedy import greedy_ctc_decode  # noqa: E402
from hypersp.decoding.ngram import build_arpa  # noqa: E402
from hypersp.tokenizers.jamo import JamoTokenizer  # noqa: E402

SYLLABLES = "가나다라마바사아자차카타파하고노도로모보소오조초코토포호구누두루무부수우주추쿠투푸후기니디리미비시이지치키티피히강남동산물불달별밤낮학교집길"


def make_corpus(rng: random.Random, n_words: int = 300, n_sentences: int = 400):
    words = ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(n_words)]
    sentences = [" ".join(rng.choice(words[:rng.randint(20, n_words)]) for _ in range(rng.randint(8, 16)))
                 for _ in range(n_sentences)]
    return words, sentences


def synthetic_posteriors(ids, frames: int, vocab: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, vocab) log-softmax: tokens placed evenly, peaked, blank elsewhere."""
    logits = rng.normal(0.0, 1.5, size=(frames, vocab)).astype(np.float32)
    logits[:, 0] += rng.uniform(10.0, 16.0, size=frames)  # blank-dominated by default
    step = frames / (len(ids) + 1)
    for i, tok in enumerate(ids):
        start = int((i + 0.5) * step)
        for f in range(start, min(frames, start + int(rng.integers(1, 4)))):
            logits[f, 0] = rng.uniform(0.0, 4.0)
            logits[f, tok] += rng.uniform(6.0, 10.0)
            if rng.random() < 0.3:  # a confusable runner-up
                logits[f, int(rng.integers(2, vocab))] += rng.uniform(5.0, 8.0)
    return torch.from_numpy(logits).log_softmax(-1).numpy()


def timed(fn, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--beam", type=int, default=16)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    words, sentences = make_corpus(rng)
    tok = JamoTokenizer()
    tok.fit(sentences + ["."])
    V = tok.vocab_size
    target = sentences[0]
    while len(tok.encode(target)) < 140:  # about 10 s of Korean speech
        target += " " + rng.choice(sentences)
    ids = tok.encode(target)[:140]
    lp = synthetic_posteriors(ids, args.frames, V, np.random.default_rng(args.seed))
    lp_t = torch.from_numpy(lp)[None]
    t0 = time.perf_counter()
    lm = build_arpa(sentences, order=3, unit="word")
    lm_build = time.perf_counter() - t0

    def cer(hyp):
        import editdistance

        return round(100.0 * editdistance.eval(hyp, ids) / len(ids), 2)

    results = {}
    greedy, t = timed(lambda: greedy_ctc_decode(lp_t)[0], args.repeats)
    results["greedy"] = {"seconds": round(t, 5), "token_error_rate": cer(greedy)}
    configs = {
        "beam": {},
        "beam_lm": {"lm": lm, "lm_weight": 0.5, "word_bonus": 1.0},
        "beam_lm_hotwords": {"lm": lm, "lm_weight": 0.5, "word_bonus": 1.0,
                             "hotwords": [tok.encode(w) for w in words[:20]], "hotword_weight": 1.0},
        "beam_no_blank_skip": {"blank_threshold": 1.0},
        "beam_lm_no_blank_skip": {"lm": lm, "lm_weight": 0.5, "word_bonus": 1.0, "blank_threshold": 1.0},
    }
    for name, kw in configs.items():
        dec = CTCBeamSearch(tok.tokens, beam_size=args.beam, decode_word=tok.decode, **kw)

        def run_once():
            if dec.lm is not None:
                dec.lm._cache.clear()  # cold LM cache every time: no credit for earlier runs
            return dec.decode_one(lp)[0].tokens
        hyp, t = timed(run_once, args.repeats)
        results[name] = {"seconds": round(t, 5), "token_error_rate": cer(hyp),
                         "x_greedy": round(t / max(results["greedy"]["seconds"], 1e-9), 1)}
    skip, _ = CTCBeamSearch(tok.tokens).candidates(lp)
    report = {
        "benchmark": "ctc_decode_speed",
        "frames": args.frames, "vocab_size": V, "beam_size": args.beam, "target_tokens": len(ids),
        "blank_skipped_frames": int(skip.sum()), "threads": torch.get_num_threads(),
        "lm": {"order": 3, "unit": "word", "ngrams": {n: len(v) for n, v in lm.ngrams.items()}, "build_seconds": round(lm_build, 3)},
        "target_seconds": 0.2, "results": results,
        "python": sys.version.split()[0], "numpy": np.__version__,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
