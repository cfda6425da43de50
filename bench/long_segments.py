"""CER by segment length: does a long window decode worse than its parts? Prints JSON.

    python bench/long_segments.py --manifest /tmp/dec_eval/test.jsonl --checkpoint demo_ko_16k

Utterances of the manifest are joined (0.15 s pauses, shorter than the VAD's min_silence_s, so an
upload would not split them either) into windows of about 5, 10, 20 and 30 s. Each window is
recognized whole (``segment=False``): ``whole`` with the engine's internal splitting and chunking off,
``chunked`` with only fixed overlapping chunks (``max_chunk_s``, the previous default), ``engine`` as
shipped (cut at pauses first, ``split_over_s``, then chunks); ``parts`` is the baseline of recognizing its
utterances one by one. CER with
spaces removed, scored with the task's normalizers. Prints one JSON line per length as it goes, then the whole
result; ``--output-json FILE`` also writes the whole result there.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--checkpoint", default="demo_ko_16k")
    p.add_argument("--lengths", default="5,10,20,30")
    p.add_argument("--windows", type=int, default=6, help="windows per length")
    p.add_argument("--decoding", default=None, help="decoder name (default: the model's own; shipped models: "
                                                    "ctc_beam with the shipped LM)")
    p.add_argument("--beam-size", type=int, default=None)
    p.add_argument("--lm", default=None, help="ARPA LM for ctc_beam ('' for none)")
    p.add_argument("--lm-weight", type=float, default=None)
    p.add_argument("--word-bonus", type=float, default=None)
    p.add_argument("--variants", default="whole,chunked,engine", help="which of whole,chunked,engine to run")
    p.add_argument("--output-json", default=None, help="also write the whole result to this file")
    args = p.parse_args()

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest
    from hypersp.metrics import ErrorRates
    from hypersp.text.normalize import get_scoring_normalizer, get_text_normalizer

    asr = hypersp.load(args.checkpoint, decoding=args.decoding, beam_size=args.beam_size, lm=args.lm,
                       lm_weight=args.lm_weight, word_bonus=args.word_bonus)
    rate = asr.sample_rate
    norm = get_text_normalizer(asr.config.task.text_normalizer)
    scoring = get_scoring_normalizer(asr.config.task.scoring_normalizer)
    utts = [(norm(e.text), load_audio(e.audio_filepath, rate)) for e in read_manifest(args.manifest)]
    pause = np.zeros(int(0.15 * rate), np.float32)
    default_chunk, default_split = asr.max_chunk_s, asr.split_over_s
    out = {"checkpoint": args.checkpoint, "manifest": args.manifest, "decoding": asr.decoding.name,
           "lm": asr.decoding.lm_path, "default_max_chunk_s": default_chunk, "by_length": []}
    k = 0
    for length in [float(x) for x in args.lengths.split(",")]:
        windows = []
        for _ in range(args.windows):
            texts, waves, total = [], [], 0.0
            while total < length and k < len(utts):
                texts.append(utts[k][0]); waves.append(utts[k][1]); total += utts[k][1].size / rate; k += 1
                if k >= len(utts):
                    k = 0
            windows.append((texts, waves))
        row = {"target_s": length, "windows": len(windows)}
        variants = [v for v in (("whole", 0.0, 0.0), ("chunked", 0.0, default_chunk), ("engine", default_split, default_chunk))
                    if v[0] in args.variants.split(",")]
        for label, split, chunk in variants:
            asr.split_over_s, asr.max_chunk_s = split, chunk
            er = ErrorRates(normalize=scoring)
            t0 = time.perf_counter()
            for texts, waves in windows:
                joined = np.concatenate([x for w in waves for x in (w, pause)])
                er.update(" ".join(texts), asr.transcribe(joined, segment=False, words=False).text)
            row[label] = {"cer": er.result()["cer"], "seconds": round(time.perf_counter() - t0, 2)}
        asr.split_over_s, asr.max_chunk_s = default_split, default_chunk
        er = ErrorRates(normalize=scoring)
        for texts, waves in windows:
            er.update(" ".join(texts), " ".join(s.text for s in asr.recognize(waves, words=False)))
        row["parts"] = {"cer": er.result()["cer"]}
        row["mean_s"] = round(float(np.mean([sum(w.size for w in ws) / rate + 0.15 * len(ws) for _, ws in windows])), 1)
        out["by_length"].append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if args.output_json:
        with open(args.output_json, "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
