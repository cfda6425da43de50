"""Server CPU seconds for the same audio POSTed vs streamed over the WebSocket; prints JSON.

    python bench/serve_cost.py --manifest /tmp/dec_eval/test.jsonl --seconds 60 [--speed 4] \
        [--variant window:streaming.mode=window --variant cached:streaming.mode=cached ...]

The audio: the manifest's first utterances joined with 0.6 s pauses up to ``--seconds``. For each variant (a
name and ``hypersp-serve`` config overrides) a fresh ``online_resp`` server (``--threads``) gets the audio
once as one HTTP POST (JSON PCM16) and once as a WebSocket stream of 0.1 s binary PCM16 frames sent at
``--speed`` x real time, then ``{"state": 0}``; the server's CPU seconds (user + system of its process and
children, from /proc) are read before and after each. Reported: both CPU figures, their ratio, and the
texts' CER against each other (spaces removed). ``--floor`` also streams the same messages to a Sanic WebSocket
handler that only receives them (bench/ws_floor_server.py): the CPU that the transport alone costs, below
which no streamed session can go. The machine's other load is not controlled.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of ``pid`` and its live children (server worker processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def pcm(x):
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


async def send_paced(ws, audio: np.ndarray, rate: int, speed: float) -> None:
    """``audio`` (PCM16) as 0.1 s binary messages at ``speed`` x real time."""
    chunk = rate // 10
    t0 = time.perf_counter()
    for k, i in enumerate(range(0, audio.size, chunk)):
        await asyncio.sleep(max(0.0, t0 + k * 0.1 / speed - time.perf_counter()))
        await ws.send(audio[i:i + chunk].tobytes())


async def stream(url: str, audio: np.ndarray, rate: int, speed: float) -> list:
    from websockets.asyncio.client import connect

    finals = []
    async with connect(url, max_size=None) as ws:
        async def reader():
            async for msg in ws:
                ev = json.loads(msg)
                if ev.get("final"):
                    finals.append(ev.get("text", ""))

        task = asyncio.create_task(reader())
        await send_paced(ws, audio, rate, speed)
        n = len(finals)
        await ws.send(json.dumps({"state": 0}))
        deadline = time.perf_counter() + 600
        while len(finals) == n and not task.done() and time.perf_counter() < deadline:  # the client's final
            await asyncio.sleep(0.05)
        task.cancel()
    return finals


async def stream_to_floor(url: str, audio: np.ndarray, rate: int, speed: float) -> int:
    """The messages of :func:`stream` to bench/ws_floor_server.py; returns how many it received."""
    from websockets.asyncio.client import connect

    async with connect(url, max_size=None) as ws:
        await send_paced(ws, audio, rate, speed)
        await ws.send("end")
        return int(await ws.recv())


def floor_cpu(audio: np.ndarray, rate: int, speed: float) -> dict:
    """Server CPU seconds of the WebSocket transport alone for ``audio`` in 0.1 s messages."""
    import subprocess

    from hypersp.testing.server import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "ws_floor_server.py"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"ws://127.0.0.1:{port}/recognize"
        for _ in range(300):  # up to 30 s to start
            try:
                asyncio.run(stream_to_floor(url, audio[:rate], rate, speed))  # warm-up
                break
            except OSError:
                time.sleep(0.1)
        c0 = cpu_seconds(proc.pid)
        received = asyncio.run(stream_to_floor(url, audio, rate, speed))
        return {"cpu_s": round(cpu_seconds(proc.pid) - c0, 2), "messages": received}
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    import editdistance

    from hypersp.audio.io import load_audio
    from hypersp.testing import ServerProcess

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--checkpoint", default="demo_ko_16k")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--speed", type=float, default=4.0, help="stream at this many times real time")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--variant", action="append", default=[], help="NAME:KEY=VALUE,KEY=VALUE (server overrides)")
    p.add_argument("--floor", action="store_true", help="also measure the WebSocket transport alone (see above)")
    args = p.parse_args()
    rate = 16000
    root = Path(args.manifest).parent
    pieces, total = [], 0
    for line in open(args.manifest, encoding="utf-8"):
        if total >= args.seconds * rate:
            break
        it = json.loads(line)
        path = Path(it["audio_filepath"])
        x = load_audio(str(path if path.is_absolute() else root / path), rate)
        pieces += [x, np.zeros(int(0.6 * rate), np.float32)]
        total += x.size + int(0.6 * rate)
    audio = pcm(np.concatenate(pieces))
    out = {"checkpoint": args.checkpoint, "audio_s": round(audio.size / rate, 1), "speed": args.speed,
           "server_threads": args.threads, "load_avg_at_start": os.getloadavg(), "variants": {}}
    for text in args.variant or ["window:streaming.mode=window", "cached:streaming.mode=cached"]:
        name, _, rest = text.partition(":")
        overrides = [o for o in rest.split(",") if o]
        with ServerProcess(args.checkpoint, "online_resp", ["--max-streams", "8", *overrides], threads=args.threads,
                           startup_timeout=600) as srv:
            pid = srv.proc.pid
            body = json.dumps({"uid": "bench", "sid": "1", "data": audio.tolist()}).encode()
            req = urllib.request.Request(srv.url + "/recognize", data=body, headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=600).read()  # warm-up
            c0 = cpu_seconds(pid)
            posted = json.loads(urllib.request.urlopen(req, timeout=600).read()).get("text", "")
            post_cpu = cpu_seconds(pid) - c0
            asyncio.run(stream(srv.ws_url + "/recognize", audio[: rate], rate, args.speed))  # warm-up
            time.sleep(1.0)
            c0 = cpu_seconds(pid)
            finals = asyncio.run(stream(srv.ws_url + "/recognize", audio, rate, args.speed))
            stream_cpu = cpu_seconds(pid) - c0
        a, b = posted.replace(" ", ""), "".join(finals).replace(" ", "")
        out["variants"][name] = {"overrides": overrides, "post_cpu_s": round(post_cpu, 2),
                                 "stream_cpu_s": round(stream_cpu, 2),
                                 "stream_to_post_ratio": round(stream_cpu / max(post_cpu, 1e-6), 2),
                                 "finals": len(finals),
                                 "cer_stream_vs_post": round(100 * editdistance.eval(a, b) / max(1, len(a)), 2)}
    if args.floor:
        out["transport_floor"] = floor_cpu(audio, rate, args.speed)
    out["load_avg_at_end"] = os.getloadavg()
    print(json.dumps(out, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
