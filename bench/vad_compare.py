"""The registered VADs in noise: speech kept, non-speech kept, segments, CER and cost. Prints JSON.

    python bench/vad_compare.py                          # demo_ko_16k, every installed VAD, 20/10/0 dB
    python bench/vad_compare.py --checkpoint demo_ko_8k --vads energy,silero

Sessions of synthetic Korean speech with known boundaries: eSpeak NG sentences (voices and speaking
rates the demo models never heard in training), each trimmed of eSpeak's silence, joined with pauses
drawn uniformly from 0.3-1.5 s, 1 s of silence at both ends. Each session is mixed with noise at each SNR
(speech power measured over the speech only): ``white``, ``pink`` (1/f), ``babble`` (six other
eSpeak talkers summed, each shifted in time: speech-shaped, not intelligible) and ``events`` (beeps,
knocks and noise bursts about once a second, the SNR being speech vs the events while they sound, over a
floor 30 dB below them).

For every VAD and condition:
- ``speech_kept``: fraction of the true speech inside the VAD's segments;
- ``nonspeech_kept``: fraction of the audio in its segments that is not speech (pauses, lead-in);
- ``segments``: number of segments / number of true utterances;
- ``cer``: CER (spaces removed, the model's scoring normalizer) of the engine's ``transcribe`` with
  ``vad.name`` set to that VAD, against the joined reference texts; ``cer_true_cuts`` is the same engine
  on the true utterance cuts (each padded by ``vad.pad_s``) via ``recognize`` — the ceiling for a VAD;
- ``cpu_s_per_audio_min``: process CPU seconds the VAD itself takes per minute of audio (offline
  ``segments`` over whole sessions; ``stream_*`` feeding 0.1 s messages to its streaming object).
Costs are measured in this run, the energy VAD being the baseline.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace

import numpy as np

VOICES = ["Andrea", "aunty", "benjamin", "f5", "iven3", "klatt4", "m8", "steph2"]  # never in the demo training set


def speech_level(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))) if x.size else 0.0


def coloured_noise(rng: np.random.Generator, n: int, pink: bool) -> np.ndarray:
    """Unit-RMS white or pink (power ~ 1/f) noise of n samples."""
    if not pink:
        w = rng.standard_normal(n)
    else:
        size = 1 << max(1, (n - 1).bit_length())
        spec = np.fft.rfft(rng.standard_normal(size))
        f = np.arange(spec.size, dtype=np.float64)
        f[0] = 1.0
        w = np.fft.irfft(spec / np.sqrt(f), size)[:n]
    return w / max(speech_level(w), 1e-12)


def events(rng: np.random.Generator, n: int, rate: int) -> np.ndarray:
    """Non-speech events (beeps, knocks, noise bursts) about once a second over a floor 30 dB below them;
    scaled so that the events themselves have unit RMS (an event at 0 dB is as loud as the speech)."""
    out = np.zeros(n, np.float64)
    active = np.zeros(n, bool)
    t = int(rng.integers(0, rate))
    while t < n:
        kind = rng.integers(3)
        length = int(rate * (rng.uniform(0.15, 0.6) if kind == 0 else rng.uniform(0.03, 0.3)))
        length = min(length, n - t)
        k = np.arange(length) / rate
        if kind == 0:  # beep: a tone with soft edges
            ev = np.sin(2 * np.pi * rng.uniform(400, 3000) * k) * np.minimum(1.0, np.minimum(k, k[::-1]) / 0.01)
        elif kind == 1:  # knock: a decaying low resonance
            ev = np.sin(2 * np.pi * rng.uniform(80, 300) * k) * np.exp(-k / 0.03)
        else:  # burst: decaying white noise
            ev = rng.standard_normal(length) * np.exp(-k / 0.08)
        out[t:t + length] += ev / max(speech_level(ev), 1e-12)
        active[t:t + length] = True
        t += length + int(rate * rng.uniform(0.3, 1.5))
    out /= max(speech_level(out[active]), 1e-12)
    return out + rng.standard_normal(n) * 10 ** (-30 / 20)


def babble(rng: np.random.Generator, n: int, talkers: list) -> np.ndarray:
    """Unit-RMS sum of talker streams (each a random circular shift of a loop of other utterances)."""
    out = np.zeros(n, np.float64)
    for wave in talkers:
        loop = np.tile(wave, int(np.ceil(n / wave.size)) + 1)
        start = int(rng.integers(0, wave.size))
        seg = loop[start:start + n].astype(np.float64)
        out += seg / max(speech_level(seg), 1e-12)
    return out / max(speech_level(out), 1e-12)


def overlap(intervals, spans) -> float:
    """Total seconds of ``intervals`` covered by ``spans`` (both sorted, non-overlapping lists of (a, b))."""
    total = 0.0
    for a, b in intervals:
        for s, e in spans:
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                total += hi - lo
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="demo_ko_16k")
    p.add_argument("--vads", default="", help="comma-separated VADs: NAME or NAME:FIELD=VALUE[:FIELD=VALUE] with "
                   "VadConfig fields (e.g. silero:energy_gate_db=0); default: every installed VAD")
    p.add_argument("--snrs", default="20,10,0")
    p.add_argument("--noises", default="white,pink,babble,events")
    p.add_argument("--sessions", type=int, default=2)
    p.add_argument("--session-s", type=float, default=50.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    import hypersp
    from hypersp.audio.io import resample
    from hypersp.config.schema import VadConfig
    from hypersp.prepare.synthetic.espeak import EspeakSynthesizer
    from hypersp.prepare.synthetic.korean_text import generate_sentences
    from hypersp.prepare.synthetic.generator import trim_silence
    from hypersp.inference.vads import available_vads, build_vad
    from hypersp.metrics import ErrorRates
    from hypersp.text.normalize import get_scoring_normalizer, get_text_normalizer

    asr = hypersp.load(args.checkpoint)
    rate = asr.sample_rate
    base_vad = asr.vad
    norm = get_text_normalizer(asr.config.task.text_normalizer)
    scoring = get_scoring_normalizer(asr.config.task.scoring_normalizer)
    vads = [v for v in args.vads.split(",") if v] or available_vads()

    def vad_config(spec: str) -> VadConfig:
        """``NAME[:FIELD=VALUE...]`` -> the engine's VadConfig with those fields replaced."""
        name, *sets = spec.split(":")
        fields = {}
        for item in sets:
            key, value = item.split("=", 1)
            fields[key] = type(getattr(base_vad, key))(value)
        return replace(base_vad, name=name, **fields)
    rng = np.random.default_rng(args.seed)
    synth = EspeakSynthesizer()

    def utterance(text: str, k: int) -> np.ndarray:
        x, r = synth.synthesize(text, variant=VOICES[k % len(VOICES)], rate_wpm=int(rng.integers(165, 186)),
                                pitch=int(rng.integers(30, 71)), seed=k)
        x = trim_silence(x.astype(np.float32) / 32768.0, r)
        x = resample(x, r, rate)
        return (x * (0.5 / max(float(np.abs(x).max()), 1e-6))).astype(np.float32)

    # Sessions with known speech intervals.
    sentences = iter(generate_sentences(2000, seed=1000 + args.seed))
    sessions, k = [], 0
    for _ in range(args.sessions):
        pieces, texts, truth, t = [np.zeros(rate, np.float32)], [], [], 1.0
        while t < args.session_s:
            text = norm(next(sentences))
            wave = utterance(text, k)
            k += 1
            if pieces[-1].size and texts:
                pause = float(rng.uniform(0.3, 1.5))
                pieces.append(np.zeros(int(pause * rate), np.float32))
                t += int(pause * rate) / rate
            truth.append((t, t + wave.size / rate))
            pieces.append(wave)
            texts.append(text)
            t += wave.size / rate
        pieces.append(np.zeros(rate, np.float32))
        audio = np.concatenate(pieces)
        mask = np.zeros(audio.size, bool)
        for a, b in truth:
            mask[int(round(a * rate)):int(round(b * rate))] = True
        sessions.append({"audio": audio, "texts": texts, "truth": truth, "mask": mask})
    talkers = [utterance(norm(next(sentences)) + " " + norm(next(sentences)), 100 + i) for i in range(6)]
    audio_min = sum(s["audio"].size for s in sessions) / rate / 60.0

    # Cost: offline segments and streaming in 0.1 s messages, on the 10 dB white-noise mixtures.
    def mix(s, noise: str, snr: float, r: np.random.Generator) -> np.ndarray:
        x = s["audio"]
        if noise == "babble":
            w = babble(r, x.size, talkers)
        elif noise == "events":
            w = events(r, x.size, rate)
        else:
            w = coloured_noise(r, x.size, pink=noise == "pink")
        level = speech_level(x[s["mask"]]) * 10 ** (-snr / 20)
        return (x + level * w).astype(np.float32)

    torch_threads = torch.get_num_threads()
    costs = {}
    cost_audio = [mix(s, "white", 10.0, np.random.default_rng([args.seed, i])) for i, s in enumerate(sessions)]
    for name in vads:
        vad = build_vad(vad_config(name))
        vad.segments(cost_audio[0][: rate], rate)  # warm-up (session creation, first run)
        t0 = time.process_time()
        for x in cost_audio:
            vad.segments(x, rate)
        offline = time.process_time() - t0
        t0 = time.process_time()
        step = int(0.1 * rate)
        for x in cost_audio:
            st = vad.stream(rate)
            for i in range(0, x.size, step):
                st.accept(x[i:i + step])
        stream = time.process_time() - t0
        costs[name] = {"cpu_s_per_audio_min": round(offline / audio_min, 4),
                       "stream_cpu_s_per_audio_min": round(stream / audio_min, 4)}
    base = costs.get("energy", {}).get("cpu_s_per_audio_min")
    for name, c in costs.items():
        if base:
            c["x_energy"] = round(c["cpu_s_per_audio_min"] / max(base, 1e-9), 1)
    torch.set_num_threads(torch_threads)  # a VAD package must not change the engine's threads

    result = {"checkpoint": args.checkpoint, "sample_rate": rate, "vads": vads, "sessions": args.sessions,
              "audio_min_per_condition": round(audio_min, 2),
              "utterances": sum(len(s["texts"]) for s in sessions), "noises": args.noises.split(","),
              "snrs_db": [float(x) for x in args.snrs.split(",")], "cost": costs,
              "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
              "torch_threads": torch_threads, "conditions": []}
    print(json.dumps({"cost": costs, "audio_min": round(audio_min, 2)}), flush=True)

    def score(texts_pairs):
        er = ErrorRates(normalize=scoring)
        for ref, hyp in texts_pairs:
            er.update(ref, hyp)
        return round(er.result()["cer"], 2)

    conditions = [("clean", None)] + [(n, float(s)) for s in args.snrs.split(",") for n in args.noises.split(",")]
    for ci, (noise, snr) in enumerate(conditions):
        mixes = [s["audio"] if snr is None else mix(s, noise, snr, np.random.default_rng([args.seed, ci, i]))
                 for i, s in enumerate(sessions)]
        pad = base_vad.pad_s
        true_pairs = []
        for s, x in zip(sessions, mixes):
            dur = x.size / rate
            cuts = [(max(0.0, a - pad), min(dur, b + pad)) for a, b in s["truth"]]
            segs = asr.recognize([x[int(a * rate):int(b * rate)] for a, b in cuts], words=False)
            true_pairs.append((" ".join(s["texts"]), " ".join(g.text for g in segs)))
        row = {"noise": noise, "snr_db": snr, "cer_true_cuts": score(true_pairs), "vads": {}}
        for name in vads:
            asr.vad = vad_config(name)
            kept = spoken = kept_nonspeech = kept_total = 0.0
            n_seg = n_true = 0
            pairs = []
            for s, x in zip(sessions, mixes):
                segs = asr.segment(x)
                covered = overlap(s["truth"], segs)
                total = sum(b - a for a, b in segs)
                kept += covered
                spoken += sum(b - a for a, b in s["truth"])
                kept_total += total
                kept_nonspeech += total - covered
                n_seg += len(segs)
                n_true += len(s["truth"])
                pairs.append((" ".join(s["texts"]), asr.transcribe(x, words=False).text))
            row["vads"][name] = {"speech_kept": round(kept / spoken, 3),
                                 "nonspeech_kept": round(kept_nonspeech / kept_total, 3) if kept_total else 0.0,
                                 "segments_per_utt": round(n_seg / max(n_true, 1), 2), "cer": score(pairs)}
        asr.vad = base_vad
        result["conditions"].append(row)
        print(json.dumps(row, ensure_ascii=False), flush=True)

    # Mean over the noises at each SNR: the README table.
    summary = {}
    for name in vads:
        for snr in [None] + [float(x) for x in args.snrs.split(",")]:
            rows = [r for r in result["conditions"] if r["snr_db"] == snr]
            key = "clean" if snr is None else f"{snr:g}dB"
            summary.setdefault(name, {})[key] = {
                m: round(float(np.mean([r["vads"][name][m] for r in rows])), 3)
                for m in ("speech_kept", "nonspeech_kept", "segments_per_utt", "cer")}
    for snr in [None] + [float(x) for x in args.snrs.split(",")]:
        rows = [r for r in result["conditions"] if r["snr_db"] == snr]
        summary.setdefault("true_cuts", {})["clean" if snr is None else f"{snr:g}dB"] = {
            "cer": round(float(np.mean([r["cer_true_cuts"] for r in rows])), 2)}
    result["summary"] = summary
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
