"""Streamed vs uploaded recognition of long-form sessions with known utterance boundaries. Prints JSON.

    python bench/streaming_longform.py --manifest /tmp/dec_eval/test.jsonl --sessions 4

Sessions are built from the manifest's utterances (in order) joined by pauses drawn uniformly from
``--pauses`` (meeting-like: 0.3-1.5 s; lecture-like: 0.3-0.7 s), each session about ``--session-s`` long.
Each session is
- *uploaded*: ``asr.transcribe(session)`` (the offline server's path: VAD segments, engine decoder);
- *streamed* through ``asr.stream()`` in messages of ``--message-s`` seconds (0.1 s by default, and every
  size in ``--message-sizes`` for the message-size table), finals joined with spaces.
CER (spaces removed) of the joined text against the joined references. Boundary F1: the middle of the gap
between consecutive finals (or upload segments) is a predicted boundary; a true boundary is the middle of a pause; a
prediction within ``--tolerance`` seconds of an unmatched true boundary is a hit.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def gaps(spans):
    """Predicted boundaries: the middle between one segment's end and the next one's start (seconds)."""
    return [(a[1] + b[0]) / 2 for a, b in zip(spans, spans[1:])]


def boundary_f1(pred, truth, tol):
    truth = list(truth)
    used = [False] * len(truth)
    hits = 0
    for p in pred:
        best = None
        for i, t in enumerate(truth):
            if not used[i] and abs(p - t) <= tol and (best is None or abs(p - t) < abs(p - truth[best])):
                best = i
        if best is not None:
            used[best] = True
            hits += 1
    precision = hits / len(pred) if pred else 0.0
    recall = hits / len(truth) if truth else 0.0
    return 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--checkpoint", default="demo_ko_16k")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--session-s", type=float, default=60.0)
    p.add_argument("--message-s", type=float, default=0.1)
    p.add_argument("--message-sizes", default="0.1,0.5,1,2,0", help="0 = the whole session in one message")
    p.add_argument("--tolerance", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("overrides", nargs="*", metavar="streaming.KEY=VALUE", help="StreamingConfig fields to change")
    args = p.parse_args()

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.data.manifest import read_manifest
    from hypersp.metrics import ErrorRates
    from hypersp.text.normalize import get_scoring_normalizer, get_text_normalizer

    asr = hypersp.load(args.checkpoint)
    rate = asr.sample_rate
    norm = get_text_normalizer(asr.config.task.text_normalizer)
    scoring = get_scoring_normalizer(asr.config.task.scoring_normalizer)
    utts = [(norm(e.text), load_audio(e.audio_filepath, rate)) for e in read_manifest(args.manifest)]
    rng = np.random.default_rng(args.seed)

    def sessions(pause_range):
        out, k = [], 0
        for _ in range(args.sessions):
            pieces, texts, bounds, t = [], [], [], 0.0
            while t < args.session_s:
                text, wave = utts[k % len(utts)]
                k += 1
                pause = float(rng.uniform(*pause_range))
                if pieces:
                    bounds.append(t + pause / 2)
                pieces += [np.zeros(int(pause * rate), np.float32), wave]
                texts.append(text)
                t += pause + wave.size / rate
            pieces.append(np.zeros(int(1.0 * rate), np.float32))
            out.append((np.concatenate(pieces), texts, bounds))
        return out

    from dataclasses import replace

    from hypersp.config.schema import StreamingConfig

    fields = {k.split("=")[0].removeprefix("streaming."): float(k.split("=")[1]) for k in args.overrides}
    scfg = replace(StreamingConfig(), **fields)
    result_cfg = {"streaming_overrides": fields}

    def stream(audio, message_s):
        s = asr.stream(input_rate=rate, cfg=scfg)
        step = audio.size if message_s <= 0 else max(1, int(message_s * rate))
        events = []
        for i in range(0, audio.size, step):
            events += s.accept(audio[i:i + step])
        events += s.finish()
        return [e for e in events if e["final"] and e["text"]]

    result = {"checkpoint": args.checkpoint, "manifest": args.manifest, "sessions": args.sessions,
              "session_s": args.session_s, "tolerance_s": args.tolerance, **result_cfg, "kinds": {}}
    for kind, pauses in (("meeting", (0.3, 1.5)), ("lecture", (0.3, 0.7))):
        data = sessions(pauses)
        up, st = ErrorRates(normalize=scoring), ErrorRates(normalize=scoring)
        f1_up, f1_st, t_up, t_st, audio_s = [], [], 0.0, 0.0, 0.0
        for audio, texts, bounds in data:
            audio_s += audio.size / rate
            ref = " ".join(texts)
            t0 = time.perf_counter()
            tr = asr.transcribe(audio, words=False)
            t_up += time.perf_counter() - t0
            up.update(ref, tr.text)
            f1_up.append(boundary_f1(gaps([(s.start, s.end) for s in tr.segments]), bounds, args.tolerance))
            t0 = time.perf_counter()
            finals = stream(audio, args.message_s)
            t_st += time.perf_counter() - t0
            st.update(ref, " ".join(e["text"] for e in finals))
            f1_st.append(boundary_f1(gaps([(e["start"], e["end"]) for e in finals]), bounds, args.tolerance))
        row = {"pauses_s": list(pauses), "audio_s": round(audio_s, 1), "utterances": sum(len(d[1]) for d in data),
               "uploaded": {"cer": up.result()["cer"], "boundary_f1": round(float(np.mean(f1_up)), 3),
                            "rtf": round(t_up / audio_s, 4)},
               "streamed": {"cer": st.result()["cer"], "boundary_f1": round(float(np.mean(f1_st)), 3),
                            "rtf": round(t_st / audio_s, 4), "message_s": args.message_s}}
        result["kinds"][kind] = row
        print(json.dumps({kind: row}), flush=True)
    # The message-size table: the same meeting-like sessions streamed in messages of each size.
    data = sessions((0.3, 1.5))
    table = {}
    for size in [float(x) for x in args.message_sizes.split(",")]:
        er = ErrorRates(normalize=scoring)
        for audio, texts, _ in data:
            er.update(" ".join(texts), " ".join(e["text"] for e in stream(audio, size)))
        table["whole" if size <= 0 else f"{size:g}s"] = er.result()["cer"]
    up = ErrorRates(normalize=scoring)
    for audio, texts, _ in data:
        up.update(" ".join(texts), asr.transcribe(audio, words=False).text)
    table["uploaded"] = up.result()["cer"]
    result["cer_by_message_size"] = table
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
