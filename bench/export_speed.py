"""Benchmark: inference speed of PyTorch eager vs TorchScript vs onnxruntime on the CPU (prints JSON).

One model (a checkpoint, or a preset with random weights and the jamo vocabulary), batch 1, a
``--seconds`` long input (log-mel features of noise at the model's rate), with 1 and 2 threads.
Each runtime is timed on the same input in the same run: median of ``--repeats`` forward
passes after ``--warmup`` untimed ones. RTF = forward time / audio seconds (model only; the
feature front end, the same for all three, is timed separately as ``features_rtf``).
``rtf_min`` uses the fastest pass (the better estimate when other processes share the CPU).
``speedup_vs_eager`` is eager time / runtime time at the same thread count. ``max_abs_diff`` is
the largest log-prob difference to eager (a parity check, not a timing).

    python bench/export_speed.py --arch quartznet_small
    python bench/export_speed.py --checkpoint demo_ko_16k --threads 1 2 --seconds 10

Needs onnxruntime for the ONNX column (``pip install 'hypersp[export]'``); without it that
column reports ``"skipped"``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import numpy as np
import torch

TEXTS = ["안녕하세요 반갑습니다", "오늘 회의를 시작하겠습니다", "고객님 무엇을 도와드릴까요", "전화 주셔서 감사합니다"]


def build_components(checkpoint: str = "", arch: str = "quartznet_small", task: str = "synthetic",
                     overrides: List[str] = ()):
    """A checkpoint's components, or a preset with random weights (seed 0) and a fitted jamo vocabulary."""
    from hypersp.checkpoint import Components, build_from_checkpoint, build_model, build_tokenizer_and_task

    if checkpoint:
        from hypersp.checkpoint import load_checkpoint

        return build_from_checkpoint(load_checkpoint(checkpoint), overrides=list(overrides))
    from hypersp.config import compose

    torch.manual_seed(0)
    cfg = compose(task=task, arch=arch, overrides=list(overrides))
    tokenizer, task_obj = build_tokenizer_and_task(cfg)
    tokenizer.fit(TEXTS)
    return Components(cfg, tokenizer, task_obj, build_model(cfg, task_obj).eval())


def features_for(task, seconds: float):
    """Features (1, T, F) of ``seconds`` of white noise at the task's rate, and the featurizer time."""
    featurizer = task.featurizer().eval()
    wave = torch.from_numpy(np.random.default_rng(0).standard_normal(int(seconds * task.sample_rate)).astype(np.float32) * 0.1)
    with torch.no_grad():
        featurizer(wave[None])
        t0 = time.perf_counter()
        feats, lengths = featurizer(wave[None])
        dt = time.perf_counter() - t0
    return feats, lengths, dt


def timings(fn: Callable[[], Any], repeats: int, warmup: int) -> Tuple[float, float]:
    """(median, min) seconds of ``repeats`` calls after ``warmup`` untimed ones. The minimum is the
    better estimate of the uncontended time when other processes share the CPU."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times)


def median_time(fn: Callable[[], Any], repeats: int, warmup: int) -> float:
    return timings(fn, repeats, warmup)[0]


def rtf_entry(fn: Callable[[], Any], seconds: float, repeats: int, warmup: int) -> Dict[str, float]:
    med, best = timings(fn, repeats, warmup)
    return {"rtf": med / seconds, "rtf_min": round(best / seconds, 5)}


def machine() -> Dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "logical_cpus": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="", help="checkpoint path or shipped name (default: --arch with random weights)")
    p.add_argument("--arch", default="quartznet_small", help="model preset when no checkpoint is given")
    p.add_argument("--task", default="synthetic", help="task for --arch (synthetic: 16 kHz, 80 mels, jamo)")
    p.add_argument("--seconds", type=float, default=10.0, help="input length in audio seconds")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("overrides", nargs="*", metavar="key=value")
    args = p.parse_args(argv)

    from hypersp.export.export import export_model

    comp = build_components(args.checkpoint, args.arch, args.task, args.overrides)
    model = comp.model.eval()
    feats, lengths, feat_time = features_for(comp.task, args.seconds)
    x, n = feats.numpy(), lengths.numpy()
    with torch.no_grad():
        ref = model(feats, lengths)[0].numpy()

    tmp = Path(tempfile.mkdtemp(prefix="hypersp-bench-export-"))
    ts_path = export_model(model, "torchscript", tmp / "m.ts", input_dim=comp.task.input_dim)
    ts = torch.jit.load(str(ts_path)).eval()
    try:
        from hypersp.inference.backends import import_onnxruntime, onnx_session

        import_onnxruntime()

        onnx_path = export_model(model, "onnx", tmp / "m.onnx", input_dim=comp.task.input_dim)
    except ImportError:
        onnx_path = None

    results: Dict[str, Any] = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        row: Dict[str, Any] = {}

        def eager():
            with torch.no_grad():
                return model(feats, lengths)

        def script():
            with torch.no_grad():
                return ts(feats, lengths)

        row["eager"] = rtf_entry(eager, args.seconds, args.repeats, args.warmup)
        row["torchscript"] = {**rtf_entry(script, args.seconds, args.repeats, args.warmup),
                              "max_abs_diff": float(np.abs(script()[0].numpy() - ref).max())}
        if onnx_path is not None:
            sess = onnx_session(onnx_path, threads)

            def ort():
                return sess.run(None, {"features": x, "lengths": n})

            row["onnxruntime"] = {**rtf_entry(ort, args.seconds, args.repeats, args.warmup),
                                  "max_abs_diff": float(np.abs(ort()[0] - ref).max())}
            del sess  # its spinning worker threads would compete with the next measurements
        else:
            row["onnxruntime"] = "skipped: onnxruntime not installed (pip install 'hypersp[export]')"
        for name in ("torchscript", "onnxruntime"):
            if isinstance(row[name], dict):
                row[name]["speedup_vs_eager"] = round(row["eager"]["rtf"] / row[name]["rtf"], 3)
        for v in row.values():
            if isinstance(v, dict):
                v["rtf"] = round(v["rtf"], 5)
        results[f"threads_{threads}"] = row

    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "benchmark": "export_speed",
        "model": args.checkpoint or args.arch,
        "family": comp.cfg.model.name,
        "parameters": params,
        "sample_rate": comp.task.sample_rate,
        "n_mels": comp.task.input_dim,
        "vocab_size": comp.task.vocab_size,
        "batch": 1,
        "audio_seconds": args.seconds,
        "features_rtf": round(feat_time / args.seconds, 5),
        "load_average_1min": os.getloadavg()[0],
        "results": results,
        "machine": machine(),
        "command": "python bench/export_speed.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
