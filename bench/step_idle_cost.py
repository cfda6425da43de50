"""CPU of one cached streaming step back to back vs with a live stream's pause before it; prints JSON.

    python bench/step_idle_cost.py --manifest /tmp/dec_eval/test.jsonl [--checkpoint demo_ko_16k_stream] \
        [--limit 5] [--chunk-s 0.32] [--gap-s 0.32] [--rounds 2] [--spin-sweep 0.002 0.01 0.03 0.1 1.0]

A live stream's steps come ``chunk_s`` apart (0.32 s); an upload's forward pass runs its audio at once. This bench
takes the steps of the checkpoint's cached streaming encoder (``StreamingRecognizer(...).encoder``: incremental
features and the compiled model step, exactly what the server runs per stream and step) over the first ``--limit``
utterances, ``chunk_s`` of audio per step (the checkpoint's ``streaming.chunk_s``, or ``--chunk-s``), and times each
step with ``time.thread_time`` (this thread's CPU only) under these schedules, alternated ``--rounds`` times:

- ``back_to_back``: one step after the other;
- ``after_sleep``: ``--gap-s`` (default: ``chunk_s``) of ``time.sleep`` before each step (the thread idles, as a
  server between a stream's steps when nothing else runs);
- ``after_spin``: ``--gap-s`` of busy-waiting on the clock before each step (the CPU stays busy with code that
  touches almost no memory: if the step still costs more, the cause is time away from the step's code and data,
  not the CPU's idle states);
- ``after_spin_Gs`` for each G of ``--spin-sweep``: the same with G seconds of busy-waiting (how fast a step's
  warm state decays on this machine: the cost rises from back-to-back to cold over some gap).

Also timed: the checkpoint's ``Recognizer.log_probs`` over each whole utterance (what an upload's forward pass
costs per audio second). Reported per schedule: median and mean CPU ms per step, CPU ms per audio second, and the
ratio to the offline forward's CPU per audio second. The steps' outputs are checked against each other (every
schedule computes the same frames).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--checkpoint", default="demo_ko_16k_stream")
    p.add_argument("--limit", type=int, default=5)
    p.add_argument("--chunk-s", type=float, default=None,
                   help="audio per step (default: the checkpoint's streaming.chunk_s)")
    p.add_argument("--gap-s", type=float, default=None, help="pause before each step (default: the step's audio)")
    p.add_argument("--spin-sweep", type=float, nargs="*", default=[], metavar="G",
                   help="also time steps after G seconds of busy-waiting, for each G")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the server's streaming steps use one)")
    args = p.parse_args()

    import torch

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest
    from hypersp.inference.streaming import StreamingRecognizer

    torch.set_num_threads(args.threads)
    rec = hypersp.load(args.checkpoint)
    cfg = rec.default_streaming_config()
    srec = StreamingRecognizer(rec, replace(cfg, chunk_s=args.chunk_s) if args.chunk_s else cfg)
    gap_s = srec.cfg.chunk_s if args.gap_s is None else args.gap_s
    if srec.encoder is None:
        raise SystemExit(f"{args.checkpoint} does not stream cached (streaming.mode={srec.cfg.mode})")
    encoder, chunk = srec.encoder, srec.chunk_samples
    waves = [load_audio(entry.audio_filepath, rec.sample_rate) for entry in read_manifest(args.manifest)[:args.limit]]
    audio_s = sum(w.size for w in waves) / rec.sample_rate

    def stream_all(wait):
        """Every utterance through the encoder in steps of ``chunk`` samples; ``wait()`` before each step.
        Returns (CPU seconds of each step, the frames)."""
        costs, frames = [], []
        for w in waves:
            state = encoder.start()
            pieces = [w[i:i + chunk] for i in range(0, w.size, chunk)]
            for k, piece in enumerate(pieces):
                wait()
                t0 = time.thread_time()
                out, state = encoder.step(state, piece, last=k == len(pieces) - 1)
                costs.append(time.thread_time() - t0)
                frames.append(out)
        return costs, np.concatenate(frames)

    def spin(seconds):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            pass

    schedules = {"back_to_back": lambda: None, "after_sleep": lambda: time.sleep(gap_s),
                 "after_spin": lambda: spin(gap_s)}
    schedules.update({f"after_spin_{g:g}s": (lambda g=g: spin(g)) for g in args.spin_sweep})
    stream_all(lambda: None)  # warm-up: the compiled step, the allocator
    costs = {name: [] for name in schedules}
    offline = []
    reference = None
    for _ in range(args.rounds):
        t0 = time.thread_time()
        for w in waves:
            rec.log_probs([w])
        offline.append(time.thread_time() - t0)
        for name, wait in schedules.items():
            step_costs, frames = stream_all(wait)
            costs[name] += step_costs
            if reference is None:
                reference = frames
            elif not np.allclose(frames, reference, atol=1e-5):
                raise SystemExit(f"{name}: the steps computed different frames")
    offline_ms_per_s = 1000 * statistics.median(offline) / audio_s
    out = {"checkpoint": args.checkpoint, "manifest": args.manifest, "utterances": len(waves),
           "audio_s": round(audio_s, 1), "chunk_s": srec.cfg.chunk_s, "gap_s": gap_s, "rounds": args.rounds,
           "step_runtime": encoder.step_runtime, "torch_threads": torch.get_num_threads(),
           "load_at_end": round(os.getloadavg()[0], 2),
           "offline_forward_cpu_ms_per_audio_s": round(offline_ms_per_s, 2), "schedules": {}}
    for name, values in costs.items():
        per_s = 1000 * sum(values) / args.rounds / audio_s
        out["schedules"][name] = {"steps": len(values) // args.rounds,
                                  "cpu_ms_per_step_median": round(1000 * statistics.median(values), 3),
                                  "cpu_ms_per_step_mean": round(1000 * statistics.fmean(values), 3),
                                  "cpu_ms_per_audio_s": round(per_s, 2),
                                  "ratio_to_offline_forward": round(per_s / offline_ms_per_s, 2)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
