"""Streamed vs offline recognition of the same utterances: CER and CPU seconds, in one process; prints JSON.

    python bench/streaming_cost.py --manifest /tmp/dec_eval/test.jsonl [--limit 100] [--message-s 0.1] \
        [--variant window: --variant cached:streaming.final_full_context=false ...]

Each utterance is recognized offline (``Recognizer.transcribe``, what a POST does) and streamed through
``StreamingRecognizer`` in messages of ``--message-s`` (0.5 s of silence before it, the client's end of
utterance after it), one stream at a time. A variant is ``NAME:KEY=VALUE,KEY=VALUE`` of ``streaming.*``
overrides of the checkpoint's own ``streaming`` settings (what hypersp-serve and ``Recognizer.stream()`` use;
``NAME:`` alone streams with exactly those); every variant streams the same audio. Reported per variant: CER
(spaces removed) of the text of all finals joined, CPU seconds of this process (``time.process_time``: all
threads) and their ratio to offline, and how soon the first partial comes: in audio time, from the speech's onset
(the first sample above -40 dBFS) to the end of the message whose step produced the first non-empty partial (p50
and p90 over the utterances that had one; processing time is not included). The machine's other load is not
controlled.

``--pace X`` sleeps between messages as a live client's arrive (X times real time; the default 0 streams them
back to back). A live stream's steps run apart, each with caches and branch predictors the rest of the machine has
used meanwhile, so the same steps cost more CPU than back to back; ``--pace`` measures that part of a server's
cost without the server (give ``--limit``: paced streaming takes the audio's duration / X).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


ONSET_LEVEL = 10 ** (-40 / 20)  # speech onset: the first sample above -40 dBFS (the utterance follows 0.5 s of zeros)


def parse_variant(text: str):
    name, _, rest = text.partition(":")
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        key = key.removeprefix("streaming.")
        overrides[key] = {"true": True, "false": False}.get(value.lower(), value)
    return name or "variant", overrides


def typed(cfg, overrides):
    out = {}
    for k, v in overrides.items():
        if not hasattr(cfg, k):
            raise SystemExit(f"unknown streaming setting {k!r}")
        cur = getattr(cfg, k)
        out[k] = v if isinstance(cur, (bool, str)) else type(cur)(v)
    return replace(cfg, **out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--checkpoint", default="demo_ko_16k")
    p.add_argument("--limit", type=int, default=0, help="first N utterances (0 = all)")
    p.add_argument("--message-s", type=float, default=0.1)
    p.add_argument("--decoding", default=None, help="decoder name (default: the model's shipped decoding)")
    p.add_argument("--lm", default=None, help="ARPA LM for ctc_beam (default: the model's shipped decoding's)")
    p.add_argument("--lm-weight", type=float, default=None)
    p.add_argument("--beam-size", type=int, default=None)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--variant", action="append", default=[], help="NAME:streaming.KEY=VALUE,... (repeatable)")
    p.add_argument("--pace", type=float, default=0.0,
                   help="messages arrive at X times real time (sleeps between them; 0 = back to back)")
    args = p.parse_args()

    import torch

    import hypersp
    from hypersp.audio.io import load_audio
    from hypersp.inference.streaming import StreamingRecognizer
    import editdistance

    if args.threads:
        torch.set_num_threads(args.threads)
    decoding = {"decoding": args.decoding, "lm": args.lm, "lm_weight": args.lm_weight, "beam_size": args.beam_size}
    rec = hypersp.load(args.checkpoint, **{k: v for k, v in decoding.items() if v is not None})
    rate = rec.sample_rate
    root = Path(args.manifest).parent
    items = [json.loads(line) for line in open(args.manifest, encoding="utf-8") if line.strip()]
    if args.limit:
        items = items[:args.limit]
    waves = []
    for it in items:
        path = Path(it["audio_filepath"])
        waves.append(load_audio(str(path if path.is_absolute() else root / path), rate))
    refs = [it["text"] for it in items]
    audio_s = sum(w.size for w in waves) / rate

    def score(hyps):  # CER in %, spaces removed
        edits = sum(editdistance.eval(r.replace(" ", ""), h.replace(" ", "")) for r, h in zip(refs, hyps))
        return round(100 * edits / max(1, sum(len(r.replace(" ", "")) for r in refs)), 3)

    # What a POST returns: the spoken and the display form (streamed finals carry both too). The display
    # form's spacing model loads once per process; load it before either side is timed.
    _ = rec.transcribe(waves[0], sample_rate=rate).display
    t0 = time.process_time()
    offline = []
    for w in waves:
        result = rec.transcribe(w, sample_rate=rate)
        _ = result.display
        offline.append(result.text)
    offline_cpu = time.process_time() - t0
    out = {"checkpoint": args.checkpoint, "manifest": args.manifest, "utterances": len(items),
           "audio_s": round(audio_s, 1), "message_s": args.message_s, "pace": args.pace, "torch_threads": torch.get_num_threads(),
           "decoding": {k: getattr(rec.decoding, k, None) for k in ("name", "beam_size", "lm_path", "lm_weight")},
           "offline": {"cer": score(offline), "cpu_s": round(offline_cpu, 2)}, "variants": {}}
    step = max(1, int(args.message_s * rate))
    lead = np.zeros(rate // 2, dtype=np.float32)
    for text in args.variant or ["window:mode=window", "cached:mode=cached"]:
        name, overrides = parse_variant(text)
        srec = StreamingRecognizer(rec, typed(rec.default_streaming_config(), overrides))
        hyps, same, first_partial = [], 0, []
        t0 = time.process_time()
        for w, off in zip(waves, offline):
            s = srec.new_stream(rate)
            x = np.concatenate([lead, w])
            onset = int(np.argmax(np.abs(x) > ONSET_LEVEL)) / rate
            finals, partial_at = [], None
            for i in range(0, x.size, step):
                if args.pace:
                    time.sleep(args.message_s / args.pace)
                s.accept(x[i:i + step])
                while s.ready():
                    events = srec.decode([s])[0]
                    finals += [e["text"] for e in events if e["final"]]
                    if partial_at is None and any(e["text"] and not e["final"] for e in events):
                        partial_at = min(x.size, i + step) / rate  # the end of the message that produced it
            finals += [e["text"] for e in srec.decode([s], force_final=[True])[0] if e["final"]]
            if partial_at is not None:
                first_partial.append(1000 * (partial_at - onset))
            hyp = " ".join(t for t in finals if t)
            hyps.append(hyp)
            same += hyp.replace(" ", "") == off.replace(" ", "")
        cpu = time.process_time() - t0
        out["variants"][name] = {"overrides": overrides, "cached": srec.encoder is not None, "cer": score(hyps),
                                 "same_text_as_offline": same, "cpu_s": round(cpu, 2),
                                 "cpu_ratio_to_offline": round(cpu / offline_cpu, 2),
                                 "first_partial_after_onset_ms": {
                                     "utterances": len(first_partial),
                                     "p50": round(float(np.percentile(first_partial, 50)), 1) if first_partial else None,
                                     "p90": round(float(np.percentile(first_partial, 90)), 1) if first_partial else None}}
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
