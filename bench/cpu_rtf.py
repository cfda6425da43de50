"""Benchmark: CPU real-time factor of QuartzNet 15x5 against the machine's arithmetic limit (prints JSON).

Model: the ``quartznet15x5`` preset with random weights (timing does not depend on them), 64 mels
(NeMo's QuartzNet input; ``--n-mels 80`` for hypersp's default front end) and the jamo vocabulary,
batch 1, a ``--seconds`` (10) input, ``--threads`` (2) threads.

- ``flops_per_audio_second``: FLOPs of one forward pass / audio seconds, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-add; convolutions incl.
  depthwise and pointwise, the decoder) and cross-checked analytically from the conv shapes.
- ``matmul_flops_per_s``: the practical peak, the best fp32 GEMM throughput that any runtime hypersp
  uses reaches on this machine with the same threads: the max of ``torch.mm`` (PyTorch's BLAS;
  eager and TorchScript) and a one-node onnxruntime ``MatMul`` graph (onnxruntime's own GEMM, the
  ONNX backend), each the fastest of a few n x n products (2 n^3 FLOPs), n in 1024/2048/4096; both
  are reported (``matmul_peak``: ``torch_mm`` and ``onnxruntime_matmul`` GFLOP/s by size, and which
  one set the limit). Without onnxruntime the peak is torch's alone and says so.
- ``limit_rtf`` = flops_per_audio_second / matmul_flops_per_s: the RTF if every FLOP ran at that peak,
  so no runtime should beat it (a ratio below 1 would mean the peak was measured too low).
- ``rtf`` per runtime (eager PyTorch, frozen TorchScript, onnxruntime): median forward time / seconds,
  model only (the log-mel front end is reported apart, ``features_rtf``), and ``ratio_to_limit`` = rtf / limit_rtf;
  ``rtf_min`` / ``ratio_to_limit_min`` use the fastest pass (the matmul peak is a fastest pass too),
  the fair reading when other processes share the CPU (``load_average_1min`` is reported).
  Target: ratio <= 3 for the best runtime. ONNX/TorchScript exports use ``hypersp.export``'s
  Conv1d-as-Conv2d rewrite (onnxruntime's blocked 2-D depthwise kernels).

    python bench/cpu_rtf.py [--threads 2] [--seconds 10] [--n-mels 64]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from export_speed import build_components, features_for, machine, timings


def count_flops(model, feats, lengths) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(feats, lengths)
    return int(counter.get_total_flops())


def analytic_flops(model, frames: int) -> int:
    """2 * multiply-adds of every Conv1d of a Jasper/QuartzNet model for a ``frames``-frame input,
    from the shapes alone: 2 * C_out * (C_in / groups) * kernel * T_out per convolution."""
    total, t = 0, frames
    for block in model.blocks:
        for convbn in block.convs:
            conv = convbn.conv
            t = (t + conv.left_pad + conv.right_pad - conv.dilation * (conv.kernel - 1) - 1) // conv.stride + 1
            for c in (conv.depthwise, conv.pointwise):
                if c is not None:
                    total += 2 * c.out_channels * (c.in_channels // c.groups) * c.kernel_size[0] * t
        for res in block.residuals:  # 1x1 shortcut convs, output at the block's (strided) length
            c = res.conv.pointwise
            total += 2 * c.out_channels * c.in_channels * t
    d = model.decoder
    return total + 2 * d.out_channels * d.in_channels * t


SIZES = (1024, 2048, 4096)


def _peak(by_size: dict) -> dict:
    n_best = max(by_size, key=by_size.get)
    return {"flops_per_s": by_size[n_best], "best_size": n_best,
            "gflops_by_size": {str(k): round(v / 1e9, 2) for k, v in by_size.items()}}


def torch_mm_flops_per_s(threads: int, sizes=SIZES, repeats: int = 5) -> dict:
    """FLOP/s of fp32 ``torch.mm`` (n x n) @ (n x n) on ``threads`` threads: fastest pass per size."""
    torch.set_num_threads(threads)
    by_size = {}
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        t = timings(lambda: torch.mm(a, b), repeats, 2)[1]  # fastest pass: the machine's peak
        by_size[n] = 2.0 * n ** 3 / t
    return _peak(by_size)


def onnxruntime_matmul_flops_per_s(threads: int, sizes=SIZES, repeats: int = 5) -> dict:
    """FLOP/s of a one-node ONNX ``MatMul`` graph (fp32, n x n by n x n) in an onnxruntime CPU session made
    like the ONNX backend's (``onnx_session``: all graph optimizations, ``threads`` intra-op threads)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    from hypersp.inference.backends import onnx_session

    by_size = {}
    tmp = Path(tempfile.mkdtemp(prefix="hypersp-bench-matmul-"))
    for n in sizes:
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["a", "b"], ["y"])], "matmul",
            [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in ("a", "b")],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, n])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = min(model.ir_version, 8)  # readable by older onnxruntime releases too
        onnx.save(model, str(tmp / f"matmul{n}.onnx"))
        sess = onnx_session(tmp / f"matmul{n}.onnx", threads)
        rng = np.random.default_rng(n)
        feed = {"a": rng.standard_normal((n, n), dtype=np.float32), "b": rng.standard_normal((n, n), dtype=np.float32)}
        t = timings(lambda: sess.run(None, feed), repeats, 2)[1]
        by_size[n] = 2.0 * n ** 3 / t
    return _peak(by_size)


def matmul_peak(threads: int) -> dict:
    """The best GEMM throughput of the runtimes hypersp uses (torch, onnxruntime), both reported."""
    found = {"torch_mm": torch_mm_flops_per_s(threads)}
    try:
        found["onnxruntime_matmul"] = onnxruntime_matmul_flops_per_s(threads)
    except ImportError as err:
        found["onnxruntime_matmul"] = {"skipped": str(err)}
    measured = {k: v for k, v in found.items() if "flops_per_s" in v}
    source = max(measured, key=lambda k: measured[k]["flops_per_s"])
    torch.set_num_threads(threads)
    return {"flops_per_s": measured[source]["flops_per_s"], "source": source, "by_runtime": found}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="quartznet15x5")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--n-mels", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--runtimes", nargs="+", default=["eager", "torchscript", "onnxruntime"])
    args = p.parse_args(argv)

    from hypersp.export.export import export_model

    torch.set_num_threads(args.threads)
    comp = build_components(arch=args.arch, overrides=[f"task.features.n_mels={args.n_mels}"])
    model = comp.model.eval()
    feats, lengths, feat_time = features_for(comp.task, args.seconds)
    flops = count_flops(model, feats, lengths)
    flops_analytic = analytic_flops(model, int(feats.shape[1])) if comp.cfg.model.name == "jasper" else None
    mm = matmul_peak(args.threads)
    torch.set_num_threads(args.threads)
    flops_per_s_audio = flops / args.seconds
    limit_rtf = flops_per_s_audio / mm["flops_per_s"]

    runs = {}
    tmp = Path(tempfile.mkdtemp(prefix="hypersp-bench-rtf-"))
    if "eager" in args.runtimes:
        def eager():
            with torch.no_grad():
                model(feats, lengths)
        runs["eager"] = eager
    if "torchscript" in args.runtimes:
        ts = torch.jit.load(str(export_model(model, "torchscript", tmp / "m.ts", input_dim=comp.task.input_dim))).eval()

        def script():
            with torch.no_grad():
                ts(feats, lengths)
        runs["torchscript"] = script
    skipped = {}
    if "onnxruntime" in args.runtimes:
        try:
            from hypersp.inference.backends import onnx_session

            sess = onnx_session(export_model(model, "onnx", tmp / "m.onnx", input_dim=comp.task.input_dim), args.threads)
            x, n = feats.numpy(), lengths.numpy()
            runs["onnxruntime"] = lambda: sess.run(None, {"features": x, "lengths": n})
        except ImportError as err:
            skipped["onnxruntime"] = str(err)

    results = {}
    for name, fn in runs.items():
        med, fastest = timings(fn, args.repeats, args.warmup)
        rtf, rtf_min = med / args.seconds, fastest / args.seconds
        results[name] = {"rtf": round(rtf, 5), "ratio_to_limit": round(rtf / limit_rtf, 2),
                         "rtf_min": round(rtf_min, 5), "ratio_to_limit_min": round(rtf_min / limit_rtf, 2),
                         "achieved_gflops_per_s": round(flops_per_s_audio / rtf_min / 1e9, 2)}
    best = min(results, key=lambda k: results[k]["rtf"]) if results else None
    print(json.dumps({
        "benchmark": "cpu_rtf",
        "model": args.arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "n_mels": args.n_mels,
        "vocab_size": comp.task.vocab_size,
        "batch": 1,
        "threads": args.threads,
        "audio_seconds": args.seconds,
        "input_frames": int(feats.shape[1]),
        "flops_per_audio_second": flops_per_s_audio,
        "flops_per_audio_second_analytic": flops_analytic / args.seconds if flops_analytic else None,
        "matmul_flops_per_s": mm["flops_per_s"],
        "matmul_peak_source": mm["source"],
        "matmul_peak": mm["by_runtime"],
        "limit_rtf": round(limit_rtf, 5),
        "results": results,
        "best": best,
        "best_ratio_to_limit": results[best]["ratio_to_limit"] if best else None,
        "target_ratio": 3.0,
        "within_target": bool(best and results[best]["ratio_to_limit"] <= 3.0),
        "features_rtf": round(feat_time / args.seconds, 5),
        "load_average_1min": os.getloadavg()[0],
        "skipped": skipped,
        "machine": machine(),
        "command": "python bench/cpu_rtf.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
