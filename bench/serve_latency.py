"""Serving latency benchmark for hypersp-serve; prints JSON.

    python bench/serve_latency.py --checkpoint best.pt [--wav speech.wav] [--clients 1 10 50] [--app online_tel]

Starts a real server (``--app``, default ``online_resp``; plain HTTP) and measures, at the app's sample rate
(16 kHz, or 8 kHz for ``online_tel``; ``--wav`` is resampled to it):
- streaming, K concurrent clients sending real-time audio in 100 ms binary frames
  (0.5 s silence, the speech, then 1.5 s silence):
  * ``first_partial``: speech onset sent -> first non-empty partial received;
  * ``final_after_state0``: last speech frame sent, immediately followed by ``{"state": 0}`` ->
    final received (the client ends the utterance, as the original demo's client did);
  * ``final_after_endpoint``: end of speech -> final from the server's own endpointer (includes
    the 0.8 s trailing-silence rule);
- offline: requests/s and latency of 5 s clips as JSON PCM16 at concurrency 8;
- ``--stagger``: the K clients do not start together (all K streams then end their utterances at the same
  moment, the worst case for a server whose finals cost a full pass) but at even offsets over one session,
  and each runs ``--cycles`` sessions back to back (a new connection each); only the middle cycles are
  measured, when all K streams are live: streams that end at independent times, as real callers do;
- memory: server RSS after 10 and after N (default 1000) short streaming sessions;
- ``server_cpu_s_per_audio_s``: the server's CPU seconds (its process and children, /proc) per second of audio
  streamed by all K clients, and per second of audio POSTed in the offline part: what a stream costs when it
  shares the server's steps with K - 1 others;
- ``lag``: for every event, its arrival time minus the stream time of the end of the audio it covers (the
  ``end`` field, from the first frame sent); a server that keeps up has a bounded worst lag, and its p95 lag
  does not grow from the first to the last third of a long session (``lag_p95_ms_by_third``; give a long
  ``--wav``).
``--workers N`` runs N server processes (``hypersp-serve --workers``); give ``--threads 1`` with 2 workers on
2 cores. The default audio is a tone pattern that the default (webrtc) VAD does not call speech: pass a
speech ``--wav``.
Latencies are p50/p95 in ms. The machine's other load is not controlled: run it on an idle box.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.request

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from serve_cost import cpu_seconds  # noqa: E402


def pct(xs, q):
    return round(float(np.percentile(xs, q)) * 1000, 1) if xs else None


def speechlike(seconds, rate=16000):
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    return (0.3 * env * (np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 450 * t)) / 1.5).astype(np.float32)


def pcm(x):
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


async def stream_client(url, speech, rate, use_state0, results):
    from websockets.asyncio.client import connect

    chunk = rate // 10
    lead, tail = np.zeros(rate // 2, np.int16), np.zeros(int(1.5 * rate), np.int16)
    audio = np.concatenate([lead, pcm(speech), tail]) if not use_state0 else np.concatenate([lead, pcm(speech)])
    speech_start_i, speech_end_i = len(lead), len(lead) + len(speech)
    t_onset = t_end = t_first = t_final = None
    t0 = None
    async with connect(url, max_size=None) as ws:
        async def reader():
            nonlocal t_first, t_final
            async for msg in ws:
                ev = json.loads(msg)
                now = time.perf_counter()
                if "end" in ev and t0 is not None:  # how far the answer trails the audio it covers
                    results["lag"].append(now - t0 - float(ev["end"]))
                    results["lag_at"].append((float(ev["end"]) / (len(audio) / rate), now - t0 - float(ev["end"])))
                if not ev.get("final") and ev.get("text") and t_first is None:
                    t_first = now
                if ev.get("final") and t_end is not None:  # finals of earlier utterances in the audio go on
                    t_final = now
                    return

        task = asyncio.create_task(reader())
        t0 = time.perf_counter()
        for k, i in enumerate(range(0, len(audio), chunk)):
            await asyncio.sleep(max(0.0, t0 + k * 0.1 - time.perf_counter()))  # real time
            await ws.send(audio[i:i + chunk].tobytes())
            now = time.perf_counter()
            if t_onset is None and i + chunk > speech_start_i:
                t_onset = now
            if t_end is None and i + chunk >= speech_end_i:
                t_end = now
            if task.done():
                break
        if use_state0:
            await ws.send(json.dumps({"state": 0}))
            t_end = time.perf_counter()
        try:
            await asyncio.wait_for(task, 15)
        except asyncio.TimeoutError:
            pass
    if t_first is not None:
        results["first_partial"].append(t_first - t_onset)
    if t_final is not None:
        results["final"].append(t_final - t_end)


def session_seconds(speech, rate, use_state0):
    """Audio seconds one session of ``stream_client`` sends: 0.5 s lead, the speech, 1.5 s tail without state 0."""
    return 0.5 + len(speech) / rate + (0.0 if use_state0 else 1.5)


async def streaming(url, speech, rate, k, use_state0, stagger=False, cycles=1):
    """K clients at once (``stagger=False``), or started at even offsets over one session and each running
    ``cycles`` sessions back to back, results kept only from the cycles between the first and the last (all K
    streams live then)."""
    results = {"first_partial": [], "final": [], "lag": [], "lag_at": []}
    if not stagger:
        await asyncio.gather(*(stream_client(url, speech, rate, use_state0, results) for _ in range(k)))
        return results
    period = session_seconds(speech, rate, use_state0)

    async def client(i):
        await asyncio.sleep(i * period / k)
        for c in range(cycles):
            await stream_client(url, speech, rate, use_state0,
                                results if 0 < c < cycles - 1 else {key: [] for key in results})

    await asyncio.gather(*(client(i) for i in range(k)))
    return results


async def short_sessions(url, n, rate):
    from websockets.asyncio.client import connect

    x = pcm(speechlike(0.5, rate)).tobytes()
    for _ in range(n):
        async with connect(url) as ws:
            await ws.send(x)
            await ws.send(json.dumps({"state": 0}))
            while not json.loads(await ws.recv()).get("final"):
                pass


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1])


def offline(url, clip, concurrency, n):
    from concurrent.futures import ThreadPoolExecutor

    body = json.dumps({"uid": "bench", "sid": "1", "data": pcm(clip).tolist()}).encode()

    def one(_):
        t = time.perf_counter()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=120).read()
        return time.perf_counter() - t

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        lat = list(pool.map(one, range(n)))
    wall = time.perf_counter() - t0
    return {"requests": n, "concurrency": concurrency, "rps": round(n / wall, 2), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="default: an untrained tiny model (protocol cost only)")
    ap.add_argument("--wav", help="speech to stream (default: a synthetic tone pattern)")
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 10, 50])
    ap.add_argument("--offline-requests", type=int, default=40)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--stagger", action="store_true", help="clients start at even offsets over one session and "
                    "run --cycles sessions each; the middle cycles are measured")
    ap.add_argument("--cycles", type=int, default=3, help="sessions per client with --stagger (at least 3)")
    ap.add_argument("--workers", type=int, default=1, help="hypersp-serve --workers (server processes)")
    ap.add_argument("--runtime", default="torch", help="hypersp-serve --runtime (what runs the served model)")
    ap.add_argument("--precision", default="fp32", help="hypersp-serve --precision (its forward passes: fp32, bf16)")
    ap.add_argument("--app", default="online_resp", help="a streaming demo app: online_resp (16 kHz) or online_tel (8 kHz)")
    ap.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="hypersp-serve config overrides (vad.name=energy)")
    args = ap.parse_args()
    from hypersp.audio.io import load_audio
    from hypersp.registry import APPS
    from hypersp.testing import ServerProcess, make_tiny_checkpoint

    rate = int(APPS.config_class(args.app)().sample_rate)
    ckpt = args.checkpoint or str(make_tiny_checkpoint(os.path.join(tempfile.mkdtemp(), "tiny.pt"), telephone=rate == 8000))
    speech = load_audio(args.wav, rate) if args.wav else speechlike(3.0, rate)
    out = {"checkpoint": ckpt, "app": args.app, "sample_rate": rate, "speech_seconds": round(len(speech) / rate, 2), "cpu_count": os.cpu_count(),
           "load_avg_at_start": os.getloadavg()}
    extra = ["--max-streams", str(max(args.clients) + 8), "--workers", str(args.workers), "--runtime", args.runtime,
             "--precision", args.precision]
    extra += list(args.overrides)
    out["workers"], out["runtime"], out["precision"], out["overrides"] = args.workers, args.runtime, args.precision, args.overrides
    if args.stagger and args.cycles < 3:
        ap.error("--stagger needs --cycles 3 or more: the first and the last cycle are not measured")
    out["stagger"], out["cycles"] = args.stagger, args.cycles if args.stagger else 1
    cycles = out["cycles"]
    with ServerProcess(ckpt, args.app, extra, threads=args.threads) as srv:
        url = srv.ws_url + "/recognize"
        asyncio.run(streaming(url, speech, rate, 1, True))  # warm-up
        out["streaming"] = []
        for k in args.clients:
            c0 = cpu_seconds(srv.proc.pid)
            a = asyncio.run(streaming(url, speech, rate, k, True, args.stagger, cycles))
            b = asyncio.run(streaming(url, speech, rate, k, False, args.stagger, cycles))
            streamed_s = k * cycles * (session_seconds(speech, rate, True) + session_seconds(speech, rate, False))
            out["streaming"].append({
                "clients": k,
                "server_cpu_s_per_audio_s": round((cpu_seconds(srv.proc.pid) - c0) / streamed_s, 4),
                "first_partial_p50_ms": pct(a["first_partial"] + b["first_partial"], 50),
                "first_partial_p95_ms": pct(a["first_partial"] + b["first_partial"], 95),
                "final_after_state0_p50_ms": pct(a["final"], 50), "final_after_state0_p95_ms": pct(a["final"], 95),
                "final_after_endpoint_p50_ms": pct(b["final"], 50), "final_after_endpoint_p95_ms": pct(b["final"], 95),
                "finals_received": [len(a["final"]), len(b["final"])],
                # lag: answer arrival minus the stream time of the audio it covers (behind real time if it grows)
                "lag_p95_ms": pct(a["lag"] + b["lag"], 95), "worst_lag_ms": pct(a["lag"] + b["lag"], 100),
                # p95 lag of the answers covering the first, middle and last third of the session: a stream
                # that falls behind real time has a lag that grows from third to third
                "lag_p95_ms_by_third": [pct([lag for at, lag in a["lag_at"] + b["lag_at"] if k / 3 <= at < (k + 1) / 3
                                             or (k == 2 and at >= 1)], 95) for k in range(3)],
            })
        clip = np.tile(speech, int(np.ceil(5 * rate / len(speech))))[: 5 * rate]
        c0 = cpu_seconds(srv.proc.pid)
        out["offline_5s"] = offline(srv.url + "/recognize", clip, 8, args.offline_requests)
        out["offline_5s"]["server_cpu_s_per_audio_s"] = round((cpu_seconds(srv.proc.pid) - c0) / (5 * args.offline_requests), 4)
        asyncio.run(short_sessions(url, 10, rate))
        rss10 = rss_kb(srv.proc.pid)
        asyncio.run(short_sessions(url, max(0, args.sessions - 10), rate))
        rss_n = rss_kb(srv.proc.pid)
        out["memory"] = {"rss_kb_after_10": rss10, f"rss_kb_after_{args.sessions}": rss_n,
                         "growth_percent": round(100 * (rss_n - rss10) / rss10, 2)}
    out["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
