"""Corpus preparation throughput: files per second with --jobs 1 and --jobs 2.

    python bench/prepare_throughput.py [--utterances 20000] [--corpus ktelspeech] [--workdir DIR]

Generates an AIHub-layout fixture (separate 라벨링데이터/원천데이터 trees, one wav + one txt per
utterance, one session JSON per 50 utterances) with ``hypersp.testing.corpus_fixtures.make_aihub_bulk``,
then runs the registered preparer from scratch with each job count and prints one JSON object:
files on disk, utterances kept, seconds, files/second and utterances/second per job count, the
speed-up of 2 jobs over 1, and the peak resident memory of the parent and of the workers.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--utterances", type=int, default=20000)
    p.add_argument("--corpus", default="ktelspeech", choices=["klecspeech", "kconfspeech", "krespspeech", "ktelspeech"])
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--workdir", help="where to generate the fixture (default: a temporary folder, removed after)")
    args = p.parse_args(argv)

    from hypersp.registry import TASKS
    from hypersp.testing.corpus_fixtures import make_aihub_bulk

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="hypersp-bench-"))
    raw = work / "raw"
    t0 = time.time()
    if raw.exists():
        shutil.rmtree(raw)
    n_files = make_aihub_bulk(raw, args.corpus, args.utterances)
    gen_s = time.time() - t0

    task = TASKS.get(args.corpus)
    runs = {}
    for jobs in args.jobs:
        out = work / f"out-j{jobs}"
        shutil.rmtree(out, ignore_errors=True)
        t = time.time()
        report = task.prepare(raw, out, jobs, {"progress": False})
        sec = time.time() - t
        runs[str(jobs)] = {
            "seconds": round(sec, 2),
            "files_on_disk": report["files_on_disk"]["total"],
            "utterances_kept": report["utterances"]["kept"],
            "files_per_second": round(report["files_on_disk"]["total"] / sec, 1),
            "utterances_per_second": round(report["utterances"]["kept"] / sec, 1),
        }
    result = {
        "benchmark": "prepare_throughput",
        "corpus": args.corpus,
        "utterances": args.utterances,
        "files_generated": n_files,
        "generate_seconds": round(gen_s, 1),
        "cpu_count": os.cpu_count(),
        "runs_by_jobs": runs,
        "peak_rss_mb": {
            "parent": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "largest_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        },
    }
    if "1" in runs and "2" in runs:
        result["speedup_2_over_1"] = round(runs["1"]["seconds"] / runs["2"]["seconds"], 2)
    print(json.dumps(result, indent=2))
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
