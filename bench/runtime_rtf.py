"""Benchmark: real-time factor of the recognition engine per runtime (prints JSON).

The same checkpoint through ``hypersp.load(CKPT, runtime=R, threads=N)`` for R in torch (PyTorch
eager), torchscript and onnxruntime (exported once into the cache, see
``hypersp.inference.runtimes``), on the utterances of a manifest, one utterance per call (batch 1,
as ``hypersp-transcribe`` runs files). Per runtime:

- ``rtf_forward``: seconds of the forward pass as the engine runs it (features + model on the wave cut at
  its pauses and in overlapping chunks, ``Recognizer.chunked_log_probs``) / audio seconds;
- ``rtf_engine``: seconds of ``Recognizer.recognize`` (forward + the decoding config's decoder + word
  times) / audio seconds; the decoding is the checkpoint's (the shipped demo models: ctc_beam with the
  shipped LM), or ``--decoding``;
- ``cpu_s_per_audio_s_forward`` / ``_engine``: the same in process CPU seconds (all threads): the compute
  cost, which other processes on a shared machine disturb much less than the wall-clock RTF;
- ``same_text_as_torch``: utterances whose text equals the torch runtime's.

A runtime may carry a precision, ``RUNTIME:PRECISION`` (``torch:bf16``: ``hypersp.load(..., precision="bf16")``,
the PyTorch model under bf16 autocast); ``same_text_as_torch`` then counts the texts equal to fp32 torch's.

All runtimes are loaded first (the export made or found then) and warmed up on the first
utterance (the LM is read then), outside the timing; the passes over the set alternate between the
runtimes, and times are the best of ``--repeats`` passes (the fairest reading on a shared machine;
``load_average_1min`` is reported).

    python bench/runtime_rtf.py --checkpoint demo_ko_16k --manifest data/open_test/16k/test.jsonl \\
        --max-utterances 40 --threads 2
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from export_speed import machine


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="demo_ko_16k")
    p.add_argument("--manifest", required=True)
    p.add_argument("--max-utterances", type=int, default=40)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--decoding", default=None, help="decoder name (default: the checkpoint's decoding config)")
    p.add_argument("--runtimes", nargs="+", default=["torch", "torchscript", "onnxruntime"],
                   help="RUNTIME or RUNTIME:PRECISION (torch:bf16)")
    args = p.parse_args(argv)

    import torch

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest

    torch.set_num_threads(args.threads)
    entries = read_manifest(args.manifest)[: args.max_utterances or None]
    results, texts, engines = {}, {}, {}
    for spec in args.runtimes:
        t0 = time.perf_counter()
        runtime, _, precision = spec.partition(":")
        kw = {"decoding": args.decoding} if args.decoding else {}
        engines[spec] = asr = hypersp.load(args.checkpoint, runtime=runtime, precision=precision or "fp32",
                                           threads=args.threads, **kw)
        results[spec] = {"load_seconds": round(time.perf_counter() - t0, 2), "backend": type(asr.backend).__name__}
    waves = [load_audio(e.audio_filepath, asr.sample_rate, e.offset, e.duration if e.offset else 0.0) for e in entries]
    audio_s = sum(len(w) for w in waves) / asr.sample_rate
    for asr in engines.values():
        asr.recognize(waves[:1])  # warm-up: decoder, LM, first-call allocations
    times = {r: {"forward": [], "engine": [], "forward_cpu": [], "engine_cpu": []} for r in engines}
    for _ in range(args.repeats):
        for runtime, asr in engines.items():  # interleaved: a change of load on a shared machine hits all runtimes
            t, c = time.perf_counter(), time.process_time()
            for w in waves:
                asr.chunked_log_probs([w])
            times[runtime]["forward"].append(time.perf_counter() - t)
            times[runtime]["forward_cpu"].append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            texts[runtime] = [asr.recognize([w])[0].text for w in waves]
            times[runtime]["engine"].append(time.perf_counter() - t)
            times[runtime]["engine_cpu"].append(time.process_time() - c)
    for runtime, tm in times.items():
        results[runtime].update({
            "rtf_forward": round(min(tm["forward"]) / audio_s, 5), "rtf_engine": round(min(tm["engine"]) / audio_s, 5),
            "cpu_s_per_audio_s_forward": round(min(tm["forward_cpu"]) / audio_s, 5),
            "cpu_s_per_audio_s_engine": round(min(tm["engine_cpu"]) / audio_s, 5)})
    if "torch" in texts:
        for runtime, out in texts.items():
            results[runtime]["same_text_as_torch"] = sum(a == b for a, b in zip(out, texts["torch"]))
    base = results.get("torch", {}).get("rtf_forward")
    for r in results.values():
        if base:
            r["forward_speedup_vs_torch"] = round(base / r["rtf_forward"], 2)
    print(json.dumps({
        "benchmark": "runtime_rtf", "checkpoint": args.checkpoint, "manifest": args.manifest,
        "utterances": len(entries), "audio_seconds": round(audio_s, 1), "threads": args.threads, "batch": 1,
        "decoding": asr.decoding.name, "results": results, "load_average_1min": os.getloadavg()[0],
        "machine": machine(),
        "command": "python bench/runtime_rtf.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
