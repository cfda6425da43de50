"""Benchmark: an ONNX deployment without torch (numpy features + onnxruntime) vs the PyTorch backend (prints JSON).

Both sides run the same audio through the whole forward path of the recognition engine, one
utterance per call (as a server does): waveform -> log-mel features -> model -> greedy CTC
(argmax, collapse, tokenizer) -> text. ONNX side: ``hypersp.inference.backends.OnnxBackend``
(``NumpyLogMelFeatures`` + onnxruntime). Torch side: ``TorchBackend`` on the checkpoint the model
was exported from (``LogMelFeatures`` + PyTorch eager). Same thread count for both
(onnxruntime intra-op threads / ``torch.set_num_threads``), measured in the same run.

RTF = processing seconds / audio seconds over all utterances; ``rtf`` is the median of
``--repeats`` passes over the set, ``rtf_min`` the fastest pass (the better estimate when other
processes share the CPU). ``features_rtf`` is the feature front end alone. ``load_s`` is the time
to import the backend module and build the backend (sidecar, tokenizer, session / checkpoint).
``texts_equal`` counts utterances where both sides give the same greedy text; ``max_abs_diff``
is the largest log-probability difference. When torch cannot be imported the torch side is
``{"skipped": ...}`` and the script still runs (numpy + onnxruntime only).

Audio: ``--audio FILE.npz`` (written by ``--save-audio``, readable without torch or eSpeak), or
``--manifest FILE.jsonl`` (needs soundfile + soxr), else about ``--seconds`` of synthetic Korean
speech from eSpeak NG (sentences from ``hypersp.prepare.synthetic.korean_text``, several voices, a -50 dB
noise floor, resampled to the model's rate).

    # main venv (torch installed): export demo_ko_16k, both sides, keep the audio for the other venv
    .venv/bin/python bench/onnx_no_torch.py --model /tmp/bench/demo_ko_16k.onnx --export demo_ko_16k \
        --save-audio /tmp/bench/audio16k.npz --threads 2
    .venv/bin/python bench/onnx_no_torch.py --model /tmp/bench/demo_ko_16k.onnx \
        --audio /tmp/bench/audio16k.npz --threads 2 --repeats 7
    # a venv without torch (numpy + onnxruntime, hypersp on the path without its dependencies; see below)
    /tmp/onnxmin/bin/python bench/onnx_no_torch.py --model /tmp/bench/demo_ko_16k.onnx \
        --audio /tmp/bench/audio16k.npz --threads 2 --repeats 7

Both passes over the set are interleaved (ONNX pass r, then torch pass r), so load from other
processes hits both alike.

Measured on the 2-core development VM (Python 3.11.7, numpy 2.4.6, onnxruntime 1.32.0, torch 2.13.0
CPU), 62.1 s of synthetic speech in 17 utterances, ``--threads 2``, medians of 7 passes (5 at 8 kHz):

| model, environment                         | ONNX rtf (features) | torch rtf (features) | ONNX vs torch | texts equal |
| ------------------------------------------ | ------------------- | -------------------- | ------------- | ----------- |
| demo_ko_16k, main venv (both)              | 0.0052 (0.0012)     | 0.0071 (0.0006)      | 1.37x faster  | 17/17       |
| demo_ko_16k, venv of numpy + onnxruntime   | 0.0048 (0.0011)     | skipped (no torch)   |               | same digest |
| demo_ko_8k, main venv (both)               | 0.0045 (0.0005)     | 0.0073 (0.0004)      | 1.62x faster  | 17/17       |
| demo_ko_8k, venv of numpy + onnxruntime    | 0.0047 (0.0006)     | skipped (no torch)   |               | same digest |

Largest log-probability difference ONNX vs torch: 1.4e-5 (16 kHz), 1.2e-5 (8 kHz). ``load_s`` (build
the backend; torch itself is already imported by the availability check): ONNX 0.23 s, torch
0.69 s. The 8 kHz audio was made with ``--export demo_ko_8k --save-audio /tmp/bench/audio8k.npz``.

Install size (``du -sh lib/python3.11/site-packages``, fresh venvs, pip 23.2 and setuptools 65
included: 24 MB of it):

- numpy + onnxruntime (+ flatbuffers, packaging, protobuf): 180 MB; everything ``OnnxBackend``
  imports (``python -c "import torch"`` fails there);
- the same + soundfile, soxr (read and resample files: ``hypersp.audio.io``) and sentencepiece
  (sentencepiece vocabularies only): 192 MB;
- the main development venv (torch 2.13 CPU, training, serving and test dependencies): 1.3 GB,
  torch alone 754 MB.

    python3 -m venv /tmp/onnxmin && /tmp/onnxmin/bin/pip install numpy onnxruntime
    echo /work/main > /tmp/onnxmin/lib/python3.11/site-packages/hypersp_dev.pth   # hypersp, no deps
    du -sh /tmp/onnxmin/lib/python3.11/site-packages .venv/lib/python3.11/site-packages
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np


def torch_available() -> Tuple[bool, str]:
    try:
        import torch  # noqa: F401
    except ImportError as err:
        return False, f"torch is not installed here ({err})"
    return True, ""


# --- audio ---------------------------------------------------------------------------------

def synthetic_audio(seconds: float, rate: int, seed: int = 0) -> Tuple[List[np.ndarray], List[str]]:
    """About ``seconds`` of eSpeak NG Korean speech at ``rate`` (float32 waves) and the sentences spoken."""
    from hypersp.audio.io import resample
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer
    from hypersp.prepare.synthetic.korean_text import generate_sentences

    synth = EspeakSynthesizer()
    variants = ["m1", "f2", "m3", "f4", "m5", "f1"]
    rng = np.random.default_rng(seed)
    waves, texts, total = [], [], 0.0
    for i, text in enumerate(generate_sentences(400, seed=seed)):
        x, r = synth.synthesize(text, variant=variants[i % len(variants)])
        x = resample(x.astype(np.float32) / 32768.0, r, rate)
        x = 0.7 * x / max(float(np.abs(x).max()), 1e-6) + 0.003 * rng.standard_normal(x.size)
        waves.append(x.astype(np.float32))
        texts.append(text)
        total += x.size / rate
        if total >= seconds:
            break
    return waves, texts


def manifest_audio(path: str, rate: int) -> Tuple[List[np.ndarray], List[str]]:
    from hypersp.audio.io import load_audio

    waves, texts = [], []
    base = Path(path).parent
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        audio = Path(item["audio_filepath"])
        audio = audio if audio.is_absolute() else base / audio
        offset = float(item.get("offset", 0.0))
        duration = float(item.get("duration") or 0.0) if "offset" in item else 0.0
        waves.append(np.asarray(load_audio(str(audio), rate, offset=offset, duration=duration), dtype=np.float32))
        texts.append(item.get("text", ""))
    return waves, texts


def get_audio(args, rate: int) -> Tuple[List[np.ndarray], List[str], str]:
    if args.audio:
        data = np.load(args.audio, allow_pickle=False)
        if int(data["sample_rate"]) != rate:
            raise SystemExit(f"{args.audio}: audio at {int(data['sample_rate'])} Hz, the model runs at {rate} Hz")
        lengths = data["lengths"].tolist()
        flat = data["samples"]
        waves = list(np.split(flat, np.cumsum(lengths)[:-1])) if lengths else []
        return waves, [str(t) for t in data["texts"]], f"npz:{args.audio}"
    if args.manifest:
        waves, texts = manifest_audio(args.manifest, rate)
        return waves, texts, f"manifest:{args.manifest}"
    waves, texts = synthetic_audio(args.seconds, rate)
    return waves, texts, "synthetic eSpeak NG"


def save_audio(path: str, waves: List[np.ndarray], texts: List[str], rate: int) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, samples=np.concatenate(waves) if waves else np.zeros(0, np.float32),
             lengths=np.array([w.size for w in waves], dtype=np.int64), texts=np.array(texts), sample_rate=rate)


# --- timing --------------------------------------------------------------------------------

def greedy(backend, lp: np.ndarray) -> str:
    ids = lp.argmax(axis=-1)
    keep = [int(t) for j, t in enumerate(ids) if t != 0 and (j == 0 or t != ids[j - 1])]
    return backend.tokenizer.decode(keep).strip()


def one_pass(backend, waves: List[np.ndarray]) -> Tuple[float, float, List[str], List[np.ndarray]]:
    """(seconds for the whole path, seconds for features alone, texts, log-probs) over ``waves``, one per call."""
    t0 = time.perf_counter()
    texts, log_probs = [], []
    for w in waves:
        lp = backend.log_probs([w])[0]
        texts.append(greedy(backend, lp))
        log_probs.append(lp)
    total = time.perf_counter() - t0
    t0 = time.perf_counter()
    for w in waves:
        backend.features([w])
    return total, time.perf_counter() - t0, texts, log_probs


def time_backends(backends: Dict[str, Any], waves: List[np.ndarray], repeats: int) -> Dict[str, Dict[str, Any]]:
    """``repeats`` passes of every backend, interleaved (pass r of each backend runs back to back, so
    load from other processes hits both alike), after one untimed warm-up utterance each."""
    audio_s = sum(w.size for w in waves) / float(next(iter(backends.values())).sample_rate)
    for backend in backends.values():
        backend.log_probs(waves[:1])
    runs: Dict[str, Dict[str, Any]] = {name: {"passes": [], "feature_passes": []} for name in backends}
    for _ in range(repeats):
        for name, backend in backends.items():
            total, feats, texts, log_probs = one_pass(backend, waves)
            runs[name]["passes"].append(total)
            runs[name]["feature_passes"].append(feats)
            runs[name]["texts"], runs[name]["log_probs"] = texts, log_probs
    for run in runs.values():
        run["rtf"] = round(statistics.median(run["passes"]) / audio_s, 5)
        run["rtf_min"] = round(min(run["passes"]) / audio_s, 5)
        run["features_rtf"] = round(statistics.median(run.pop("feature_passes")) / audio_s, 5)
        run.pop("passes")
    return runs


PRIVATE = ("texts", "log_probs")


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="", help="exported .onnx (with its .onnx.json sidecar); with --export it is "
                   "written first. Default: demo_ko_16k exported to a temporary folder (needs torch)")
    p.add_argument("--export", default="", metavar="CKPT", help="export this checkpoint / shipped name to --model first")
    p.add_argument("--checkpoint", default="", help="torch baseline (default: the sidecar's source_checkpoint)")
    p.add_argument("--audio", default="", help="an .npz written by --save-audio")
    p.add_argument("--manifest", default="", help="a JSONL manifest instead of synthetic speech")
    p.add_argument("--seconds", type=float, default=60.0, help="synthetic speech to generate (seconds)")
    p.add_argument("--save-audio", default="", help="write the audio used to this .npz (for a run elsewhere)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    has_torch, why = torch_available()
    model = args.model
    tmp = None
    if args.export or not model:
        if not has_torch:
            raise SystemExit("exporting needs torch: run once in a venv with torch (--export), then pass --model")
        from hypersp.export.export import export_checkpoint

        if not model:
            tmp = tempfile.TemporaryDirectory()
            model = str(Path(tmp.name) / "demo_ko_16k.onnx")
        export_checkpoint(args.export or "demo_ko_16k", "onnx", model)

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    t0 = time.perf_counter()
    from hypersp.inference.backends import OnnxBackend

    onnx = OnnxBackend(model, threads=args.threads)
    onnx_load = time.perf_counter() - t0
    waves, refs, source = get_audio(args, onnx.sample_rate)
    if args.save_audio:
        save_audio(args.save_audio, waves, refs, onnx.sample_rate)
    audio_s = sum(w.size for w in waves) / float(onnx.sample_rate)

    result: Dict[str, Any] = {
        "model": str(model), "sample_rate": onnx.sample_rate, "audio": source, "utterances": len(waves),
        "audio_s": round(audio_s, 2), "threads": args.threads, "repeats": args.repeats,
        "torch_importable": has_torch,
        "env": {"python": platform.python_version(), "numpy": np.__version__,
                "onnxruntime": __import__("onnxruntime").__version__, "cpus": os.cpu_count()},
    }
    backends: Dict[str, Any] = {"onnx": onnx}
    if has_torch:
        import torch

        torch.set_num_threads(args.threads)
        t0 = time.perf_counter()
        from hypersp.inference.backends import TorchBackend

        ckpt = args.checkpoint or args.export or onnx.meta.get("source_checkpoint") or "demo_ko_16k"
        backends["torch"] = TorchBackend.from_checkpoint(ckpt)
        torch_load = time.perf_counter() - t0
        result["checkpoint"] = ckpt
    runs = time_backends(backends, waves, args.repeats)
    o = runs["onnx"]
    result["onnx"] = {k: v for k, v in o.items() if k not in PRIVATE}
    result["onnx"]["load_s"] = round(onnx_load, 3)
    result["onnx_texts_sample"] = o["texts"][:3]
    # compares runs in different environments (e.g. this venv and one without torch): same digest, same texts
    result["onnx_texts_sha1"] = hashlib.sha1("\n".join(o["texts"]).encode("utf-8")).hexdigest()[:12]
    if not has_torch:
        result["torch"] = {"skipped": why}
    else:
        t = runs["torch"]
        result["torch"] = {k: v for k, v in t.items() if k not in PRIVATE}
        result["torch"]["load_s"] = round(torch_load, 3)
        result["torch"]["version"] = torch.__version__
        result["speedup_onnx_vs_torch"] = round(t["rtf"] / o["rtf"], 2)
        result["speedup_onnx_vs_torch_min"] = round(t["rtf_min"] / o["rtf_min"], 2)
        result["texts_equal"] = f"{sum(a == b for a, b in zip(o['texts'], t['texts']))}/{len(waves)}"
        result["max_abs_diff"] = float(max((np.abs(a - b).max() for a, b in zip(o["log_probs"], t["log_probs"])
                                            if a.size and a.shape == b.shape), default=0.0))
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
