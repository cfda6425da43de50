"""The work of a burst of finals, in process: what a server must do when N two-pass streams end at once; prints JSON.

    python bench/finals_burst.py --wav /tmp/dec_eval/wavs/synth-dev-000004.wav [--checkpoint demo_ko_16k] \
        [--streams 50] [--threads 2] [--precision fp32 --precision bf16] [--repeats 2]

When N live streams of a two-pass model end in the same step, each final is a second pass over its utterance:
the forward pass over all N utterances (``Recognizer.chunked_log_probs``, batches of ``batch_seconds``), the
checkpoint's decoder (the shipped demo models: ctc_beam + the Korean LM) and the word alignment. This bench times
exactly that, ``Recognizer.recognize`` of N copies of ``--wav``, with nothing else running: no transport, no
streaming steps, no other stream. Its wall time is a floor for the server's p95 "final after end of speech" of
N streams that end together on this machine (the server adds the steps of the live streams and the transport).

Reported per precision (``hypersp.load(..., precision=P)``), best of ``--repeats`` passes, alternated: wall and
process-CPU seconds of the forward pass alone, of the decoder alone (on those log-probs), and of the whole
``recognize``; and whether the texts equal the first precision's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def timed(fn):
    """``(result, wall seconds, process CPU seconds)`` of ``fn()``."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default="demo_ko_16k")
    ap.add_argument("--wav", required=True, help="one utterance; the burst is --streams copies of it")
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the server's default on 2 cores)")
    ap.add_argument("--precision", action="append", help="fp32 (default), bf16; repeatable")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()

    import torch

    import hypersp
    from hypersp.audio.io import load_audio

    torch.set_num_threads(args.threads)
    precisions = args.precision or ["fp32"]
    engines = {p: hypersp.load(args.checkpoint, precision=p) for p in precisions}
    first = engines[precisions[0]]
    wave = load_audio(args.wav, first.sample_rate)
    burst = [wave] * args.streams
    for rec in engines.values():
        rec.recognize(burst[:2])  # warm-up: the decoder, the LM, first-call allocations
    best = {p: {} for p in precisions}
    texts = {}
    for _ in range(args.repeats):
        for p, rec in engines.items():  # alternated: a change of load hits every precision
            lps, *forward = timed(lambda: rec.chunked_log_probs(burst))
            _, *decode = timed(lambda: rec.decoder.decode_batch(lps))
            segments, *whole = timed(lambda: rec.recognize(burst))
            texts[p] = [s.text for s in segments]
            for name, (wall, cpu) in (("forward", forward), ("decode", decode), ("recognize", whole)):
                old = best[p].get(name)
                if old is None or wall < old[0]:
                    best[p][name] = (wall, cpu)
    out = {"checkpoint": args.checkpoint, "wav": args.wav, "utterance_s": round(wave.size / first.sample_rate, 2),
           "streams": args.streams, "torch_threads": args.threads, "decoding": first.decoding.name,
           "beam_size": first.decoding.beam_size, "repeats": args.repeats, "load_avg_at_end": os.getloadavg()[0],
           "precisions": {}}
    for p in precisions:
        row = {f"{name}_{kind}_s": round(v, 3) for name, (wall, cpu) in best[p].items()
               for kind, v in (("wall", wall), ("cpu", cpu))}
        row["same_text_as_" + precisions[0]] = sum(a == b for a, b in zip(texts[p], texts[precisions[0]]))
        out["precisions"][p] = row
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
