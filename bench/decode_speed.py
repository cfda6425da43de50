"""Benchmark: CTC decoding speed on one CPU core (prints JSON).

A 10-second utterance = 1000 output frames at 10 ms over a 70-symbol vocabulary (the jamo
tokenizer: blank, space, 67 jamo, "."), with synthetic CTC posteriors shaped like a trained
model's: ~140 tokens of a Korean sentence, each peaked on 1-3 frames (sometimes with a
confusable runner-up), blank elsewhere (blank probability 0.99-0.99999). Decoders, all in the
same run: greedy (the baseline: torch argmax + collapse), the registered ``greedy`` decoder
(numpy best path + the Hangul grammar check) and its repair pass forced (the grammar-constrained
Viterbi best path, run only when the plain best path is invalid), CTC prefix beam search with beam
16 (the registered ``ctc_beam`` decoder, Hangul grammar on) without and with a word 3-gram LM
(built from 400 generated sentences), with the partial-word LM penalty, with hotwords, without
the grammar (the old behaviour), and without blank skipping (the worst case: every frame
searched); and the CTC forced alignment of the greedy output (timestamps), and of 50 short utterances
one by one against ``ctc_align_batch`` (the words of a burst of finals). Times are the median of
``--repeats`` runs, each with a cold LM cache.

    python bench/decode_speed.py [--repeats 5] [--beam 16] [--frames 1000]

With ``--scaling`` it measures how beam search scales with the utterance's length instead: the
same posterior generator at a constant token rate (14 tokens per 100 frames) for 1000, 2000, 4000
and 8000 frames (``--scaling-frames``), ``ctc_beam`` with beam ``--beam`` without and with the word
3-gram LM; runs are interleaved across lengths (fair under a varying machine load), and the report
gives CPU microseconds per frame (median and best of ``--repeats``; process CPU time, as the
decode is single-threaded and the machine may be shared) and the ratio of the longest to the
shortest (1.0 = linear in length)::

    python bench/decode_speed.py --scaling --repeats 5

With ``--manifest`` it measures accuracy instead, on a real model's outputs: the model's CTC
log-probs for every utterance are computed once, then decoded by greedy, beam, beam + word LM and
beam + word LM + the partial-word penalty (a grid over ``--lm-weights`` and ``--penalties``);
CER/WER (scoring normalizer ``basic``), decoding seconds, and how many plain best paths needed
the greedy repair::

    hypersp-prepare synthetic --out data/meas hours=0.25 seed=7 test_fraction=0.5 dev_fraction=0.01 \
        noise_snr_db_min=12 noise_snr_db_max=35 min_rate=120 max_rate=240
    hypersp-prepare lm --text other_sentences.txt --out data/meas/word3.arpa --order 3
    python bench/decode_speed.py --checkpoint demo_ko_16k --manifest data/meas/test.jsonl --lm data/meas/word3.arpa
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from hypersp.config.schema import DecodingConfig  # noqa: E402
from hypersp.decoding import build_decoder  # noqa: E402
from hypersp.decoding.align import ctc_align, ctc_align_batch  # noqa: E402
from hypersp.decoding.ctc_beam import CTCBeamSearch  # noqa: E402
from hypersp.decoding.grammar import constrained_best_path  # noqa: E402
from hypersp.decoding.greedy import greedy_ctc_decode  # noqa: E402
from hypersp.decoding.ngram import build_arpa, load_lm  # noqa: E402
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
    ap.add_argument("--scaling", action="store_true", help="measure cost per frame against utterance length")
    ap.add_argument("--scaling-frames", default="1000,2000,4000,8000")
    acc = ap.add_argument_group("accuracy mode (real model outputs)")
    acc.add_argument("--manifest", help="JSON-lines manifest to decode; switches to the accuracy mode")
    acc.add_argument("--checkpoint", default="demo_ko_16k", help="checkpoint path or shipped model name")
    acc.add_argument("--lm", help="word ARPA LM for the beam + LM rows")
    acc.add_argument("--lm-weights", default="0.3,0.5,1.0")
    acc.add_argument("--word-bonus", type=float, default=1.0)
    acc.add_argument("--penalties", default="0,-10", help="lm_partial_word_penalty values")
    acc.add_argument("--max-utterances", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.manifest:
        return accuracy(args)
    if args.scaling:
        return scaling(args)
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

    def add(name, fn):
        hyp, t = timed(fn, args.repeats)
        results[name] = {"seconds": round(t, 5), "x_greedy": round(t / max(results["greedy"]["seconds"], 1e-9), 1)}
        if hyp is not None:
            results[name]["token_error_rate"] = cer(hyp)

    greedy_dec = build_decoder(DecodingConfig(name="greedy"), tok)
    add("greedy_decoder", lambda: greedy_dec.decode(lp)[0].ids)
    add("greedy_repair_pass", lambda: constrained_best_path(lp, greedy_dec.grammar)[0])
    add("ctc_align_greedy_output", lambda: (ctc_align(lp, greedy), None)[1])
    # The words of a burst of finals: 50 short utterances (100 frames, 14 tokens each), one by one and batched.
    short_rng = np.random.default_rng(args.seed + 1)
    shorts = [synthetic_posteriors(ids[14 * (k % 10):14 * (k % 10) + 14], 100, V, short_rng) for k in range(50)]
    short_hyps = [greedy_ctc_decode(torch.from_numpy(x)[None])[0] for x in shorts]
    add("ctc_align_50_utterances_one_by_one", lambda: ([ctc_align(x, h) for x, h in zip(shorts, short_hyps)], None)[1])
    add("ctc_align_50_utterances_batched", lambda: (ctc_align_batch(shorts, short_hyps), None)[1])

    tmp = Path(tempfile.mkdtemp(prefix="hypersp-bench-"))
    lm_path = tmp / "word3.arpa"
    lm.save(lm_path)
    lm_cfg = dict(lm_path=str(lm_path), lm_weight=0.5, word_bonus=1.0)
    configs = {
        "beam": {},
        "beam_no_grammar": None,  # CTCBeamSearch without the Hangul grammar: the old behaviour
        "beam_lm": lm_cfg,
        "beam_lm_partial_word_penalty": dict(lm_cfg, lm_partial_word_penalty=-10.0),
        "beam_lm_hotwords": dict(lm_cfg, hotwords=words[:20], hotword_weight=1.0),
        "beam_no_blank_skip": {"blank_threshold": 1.0},
        "beam_lm_no_blank_skip": dict(lm_cfg, blank_threshold=1.0),
    }
    for name, kw in configs.items():
        if kw is None:
            search = CTCBeamSearch(tok.tokens, beam_size=args.beam, decode_word=tok.decode)
        else:
            search = build_decoder(DecodingConfig(name="ctc_beam", beam_size=args.beam, **kw), tok).search

        def run_once():
            if search.lm is not None:
                search.lm._cache.clear()  # cold LM cache every time: no credit for earlier runs
            return search.decode_one(lp)[0].tokens
        add(name, run_once)
    lm = load_lm(lm_path)
    skip, _ = CTCBeamSearch(tok.tokens).candidates(lp)
    report = {
        "benchmark": "ctc_decode_speed",
        "frames": args.frames, "vocab_size": V, "beam_size": args.beam, "target_tokens": len(ids),
        "blank_skipped_frames": int(skip.sum()), "threads": torch.get_num_threads(),
        "lm": {"order": 3, "unit": "word", "ngrams": {n: len(v) for n, v in lm.ngrams.items()}, "build_seconds": round(lm_build, 3)},
        "target_seconds": 0.2, "results": results, "grammar_states": greedy_dec.grammar.num_states,
        "python": sys.version.split()[0], "numpy": np.__version__,
    }
    print(json.dumps(report, indent=2))
    return 0


def scaling(args) -> int:
    """Beam search cost per frame at several lengths, same token rate (see the module docstring)."""
    rng = random.Random(args.seed)
    _, sentences = make_corpus(rng)
    tok = JamoTokenizer()
    tok.fit(sentences + ["."])
    all_ids = tok.encode(" ".join(sentences))
    frames = [int(f) for f in args.scaling_frames.split(",")]
    posteriors = {}
    space = tok.token_to_id(" ")
    for f in frames:
        n_tokens = f * 14 // 100  # 14 tokens per 100 frames (1 s), as in the default mode
        if n_tokens >= len(all_ids):
            raise SystemExit(f"--scaling-frames {f}: the generated text has only {len(all_ids)} tokens")
        while all_ids[n_tokens] != space:  # end on a whole word: a cut syllable (a bare initial consonant)
            n_tokens -= 1                  # would send the search to its grammar fallback (not what is measured)
        posteriors[f] = synthetic_posteriors(all_ids[:n_tokens], f, tok.vocab_size, np.random.default_rng(args.seed))
    tmp = Path(tempfile.mkdtemp(prefix="hypersp-bench-"))
    lm_path = tmp / "word3.arpa"
    build_arpa(sentences, order=3, unit="word").save(lm_path)
    configs = {"beam": {}, "beam_lm": dict(lm_path=str(lm_path), lm_weight=0.5, word_bonus=1.0)}
    results = {}
    for name, kw in configs.items():
        search = build_decoder(DecodingConfig(name="ctc_beam", beam_size=args.beam, **kw), tok).search
        times = {f: [] for f in frames}
        for _ in range(args.repeats):  # interleaved: a load change on the shared machine hits every length
            for f in frames:
                if search.lm is not None:
                    search.lm._cache.clear()  # cold LM cache every time
                t0 = time.process_time()  # CPU time: other processes on a shared machine count less
                search.decode_one(posteriors[f])
                times[f].append(time.process_time() - t0)

        per_frame = {f: statistics.median(times[f]) / f for f in frames}
        best_per_frame = {f: min(times[f]) / f for f in frames}
        results[name] = {
            "us_per_frame_median": {f: round(1e6 * per_frame[f], 1) for f in frames},
            "us_per_frame_best": {f: round(1e6 * best_per_frame[f], 1) for f in frames},
            "seconds_median": {f: round(statistics.median(times[f]), 4) for f in frames},
            f"ratio_{frames[-1]}_vs_{frames[0]}_median": round(per_frame[frames[-1]] / per_frame[frames[0]], 3),
            f"ratio_{frames[-1]}_vs_{frames[0]}_best": round(best_per_frame[frames[-1]] / best_per_frame[frames[0]], 3),
        }
    print(json.dumps({
        "benchmark": "ctc_beam_length_scaling", "beam_size": args.beam, "vocab_size": tok.vocab_size,
        "tokens_per_100_frames": 14, "repeats": args.repeats, "threads": torch.get_num_threads(),
        "target_ratio_max": 1.3, "clock": "process CPU time (the decode is single-threaded)",
        "results": results, "python": sys.version.split()[0],
    }, indent=2))
    return 0


def accuracy(args) -> int:
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest
    from hypersp.decoding.greedy import best_path
    from hypersp.metrics import ErrorRates
    from hypersp.text.normalize import get_scoring_normalizer
    from hypersp.checkpoint import build_from_checkpoint
    from hypersp.checkpoint import load_checkpoint

    comp = build_from_checkpoint(load_checkpoint(args.checkpoint))
    tok, task = comp.tokenizer, comp.task
    feat = task.featurizer().eval()
    entries = read_manifest(args.manifest)
    if args.max_utterances:
        entries = entries[:args.max_utterances]
    t0 = time.perf_counter()
    outputs = []
    with torch.no_grad():
        for e in entries:
            w = load_audio(e.audio_filepath, task.sample_rate, e.offset, e.duration if e.offset else 0.0)
            f, fl = feat(torch.from_numpy(w)[None], torch.tensor([len(w)]))
            lp, n = comp.model(f, fl)
            outputs.append(lp[0, :int(n[0])].float().numpy())
    forward_s = time.perf_counter() - t0
    audio_s = sum(e.duration for e in entries)
    norm = get_scoring_normalizer("basic")
    refs = [task.normalize_text(e.text) if hasattr(task, "normalize_text") else e.text for e in entries]

    def score(cfg: DecodingConfig):
        dec = build_decoder(cfg, tok)
        rates = ErrorRates(normalize=norm)
        t = time.perf_counter()
        for ref, lp in zip(refs, outputs):
            rates.update(ref, tok.decode(dec.decode(lp)[0].ids))
        out = rates.result()
        out["decode_seconds"] = round(time.perf_counter() - t, 2)
        return out

    rows = {"greedy": score(DecodingConfig(name="greedy")),
            f"beam{args.beam}": score(DecodingConfig(name="ctc_beam", beam_size=args.beam))}
    if args.lm:
        for w in [float(x) for x in args.lm_weights.split(",")]:
            for pen in [float(x) for x in args.penalties.split(",")]:
                cfg = DecodingConfig(name="ctc_beam", beam_size=args.beam, lm_path=args.lm, lm_weight=w,
                                     word_bonus=args.word_bonus, lm_partial_word_penalty=pen)
                rows[f"beam{args.beam}_lm{w:g}_penalty{pen:g}"] = score(cfg)
    greedy = build_decoder(None, tok)
    repaired = sum(1 for lp in outputs if not greedy.grammar.accepts(best_path(lp)[0])) if greedy.grammar else 0
    print(json.dumps({
        "benchmark": "decode_accuracy", "checkpoint": args.checkpoint, "manifest": args.manifest, "lm": args.lm,
        "utterances": len(entries), "audio_seconds": round(audio_s, 1), "forward_seconds": round(forward_s, 2),
        "word_bonus": args.word_bonus, "scoring_normalizer": "basic",
        "plain_best_paths_with_bare_jamo": repaired, "results": rows,
    }, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
