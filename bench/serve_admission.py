"""Admission under load, end to end: K live clients against one hypersp-serve; prints JSON.

    python bench/serve_admission.py --checkpoint demo_ko_16k --clients 30
    python bench/serve_admission.py --checkpoint demo_ko_16k --clients 30 serve.max_stream_lag_s=1000 serve.max_stream_load=1000

Starts ``online_resp`` (plain HTTP, ``--threads 1``) with the given ``key=value`` overrides; ``--clients`` clients
connect 0.2 s apart, each sends ``--seconds`` of speech-like audio in real-time 100 ms binary frames, then
``{"state": 0}``, and waits for that final. Reports how many were admitted, their final latency (state 0 sent ->
final received, p95/max, s) and how many were refused (close code and reason). The second command above switches
admission off (limits that never refuse) for comparison. The clients run in this process, on the same machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))


def speech(seconds: float, rate: int = 16000) -> np.ndarray:
    """Syllable-like bursts (harmonic tones under a 4 Hz envelope) as PCM16."""
    t = np.arange(int(seconds * rate)) / rate
    env = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), 1))
    return (np.clip(0.3 * env * x / 2, -1, 1) * 32767).astype("<i2")


async def client(url: str, audio: np.ndarray, out: list) -> None:
    import websockets

    try:
        async with websockets.connect(url, open_timeout=30) as ws:
            t_next = time.perf_counter()
            for i in range(0, audio.size, 1600):
                await ws.send(audio[i:i + 1600].tobytes())
                t_next += 0.1
                await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
            t_end = time.perf_counter()
            await ws.send('{"state": 0}')
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("final") and msg.get("reason") == "client":
                    out.append(("final", time.perf_counter() - t_end))
                    return
    except websockets.exceptions.ConnectionClosed as closed:
        out.append(("refused", closed.rcvd.code if closed.rcvd else None, closed.rcvd.reason if closed.rcvd else ""))


async def run(ws_url: str, clients: int, seconds: float) -> list:
    audio, out, tasks = speech(seconds), [], []
    for _ in range(clients):
        tasks.append(asyncio.create_task(client(ws_url + "/recognize", audio, out)))
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="demo_ko_16k")
    ap.add_argument("--clients", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("overrides", nargs="*", metavar="key=value")
    args = ap.parse_args()
    from hypersp.testing import ServerProcess

    with ServerProcess(args.checkpoint, "online_resp", args.overrides, startup_timeout=180) as srv:
        out = asyncio.run(run(srv.ws_url, args.clients, args.seconds))
    finals = [r[1] for r in out if r[0] == "final"]
    refused = [r[1:] for r in out if r[0] == "refused"]
    print(json.dumps({"checkpoint": args.checkpoint, "clients": args.clients, "seconds": args.seconds,
                      "overrides": args.overrides, "cpus": os.cpu_count(), "admitted": len(finals),
                      "final_s_p95": round(float(np.percentile(finals, 95)), 3) if finals else None,
                      "final_s_max": round(max(finals), 3) if finals else None, "refused": len(refused),
                      "refusal_example": refused[:1]}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
