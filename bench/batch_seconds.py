"""Forward-pass speed by batch size (audio seconds per padded batch); prints JSON.

    python bench/batch_seconds.py --checkpoint demo_ko_16k --manifest data/demo/open_test/16k/test.jsonl \
        [--limit 96] [--runtime torch --runtime onnxruntime] [--threads 2] [--batch-seconds 4 8 16 32 64 120 400]

The manifest's first ``--limit`` utterances go through ``Recognizer.chunked_log_probs`` (what eval, uploads and
the streaming server's finals run: waves sorted by length, batches of at most ``batch_seconds`` of audio) once
per batch size, ``--repeats`` times, interleaved; reported per runtime and size: the best and the median wall RTF of
the forward pass (features + model; no decoding), the best one's speed relative to the baseline size ``--baseline``
(120 s, the default before it depended on the device), the minor page faults of a pass (median: memory the C
allocator mapped afresh), and whether every size gave the same frames (max |difference| of the log-probabilities).
The machine's other load is not controlled: give it a quiet machine and compare sizes within one run.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default="demo_ko_16k")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--limit", type=int, default=96)
    ap.add_argument("--runtime", action="append",
                    help="torch (default), onnxruntime, torchscript, or RUNTIME:PRECISION (torch:bf16: "
                         "hypersp.load(..., precision='bf16')); repeatable")
    ap.add_argument("--threads", type=int, default=0, help="torch / onnxruntime threads (0: torch's default)")
    ap.add_argument("--batch-seconds", type=float, nargs="+", default=[4, 8, 16, 32, 64, 120, 400])
    ap.add_argument("--baseline", type=float, default=120.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    import torch

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    sizes = sorted(set(args.batch_seconds) | {args.baseline})
    out = {"checkpoint": args.checkpoint, "manifest": args.manifest, "torch_threads": torch.get_num_threads(),
           "load_avg_at_start": list(os.getloadavg()), "runtimes": {}}
    for spec in args.runtime or ["torch"]:
        runtime, _, precision = spec.partition(":")
        rec = hypersp.load(args.checkpoint, runtime=runtime, precision=precision or "fp32", threads=args.threads or None)
        entries = read_manifest(args.manifest)[:args.limit]
        waves = [load_audio(e.audio_filepath, rec.sample_rate) for e in entries]
        audio_s = sum(w.size for w in waves) / rec.sample_rate
        rec.batch_seconds = min(sizes)
        rec.chunked_log_probs(waves[:8])  # warm-up
        seconds = {s: [] for s in sizes}
        faults = {s: [] for s in sizes}
        frames = {}
        for _ in range(args.repeats):
            for s in sizes:
                rec.batch_seconds = s
                f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0 = time.perf_counter()
                lps = rec.chunked_log_probs(waves)
                seconds[s].append(time.perf_counter() - t0)
                faults[s].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
                frames.setdefault(s, lps)
        best = {s: min(v) for s, v in seconds.items()}
        ref = frames[args.baseline]
        out["runtimes"][spec] = {
            "utterances": len(waves), "audio_s": round(audio_s, 1),
            "rtf": {str(s): round(best[s] / audio_s, 5) for s in sizes},
            "rtf_median": {str(s): round(float(np.median(seconds[s])) / audio_s, 5) for s in sizes},
            "page_faults_per_pass": {str(s): int(np.median(faults[s])) for s in sizes},
            "speed_vs_baseline": {str(s): round(best[args.baseline] / best[s], 2) for s in sizes},
            "max_abs_diff_vs_baseline": {str(s): float(max(np.abs(a - b).max() for a, b in zip(frames[s], ref)))
                                         for s in sizes},
        }
    out["load_avg_at_end"] = list(os.getloadavg())
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
