"""Do uploads stall live streams? hypersp-serve under big uploads and a slow ffmpeg; prints JSON.

    python bench/serve_stall.py                          # this checkout, a tiny random model
    python bench/serve_stall.py --repo /tmp/before       # another checkout (a git worktree of an older commit)
    python bench/serve_stall.py --checkpoint demo_ko_16k --scenarios json wav3

Starts a real server (``online_resp``, plain HTTP, ``--threads 1``) from ``--repo`` and keeps, for the whole run,
- a live stream: 100 ms binary PCM16 frames in real time, ``{"state": 0}`` after every 5th frame; measured:
  ``final_ms`` (state 0 sent -> its final received, p95/max) and ``final_gap_ms`` (the longest time between two
  finals; 500 ms when nothing stalls);
- a ``/healthz`` poller (every 50 ms): ``healthz_ms`` p95/max, how long the event loop takes to answer.
Scenarios, one after the other, each measured from its start until its uploads are answered (at most
``--scenario-s``):
- ``json``: one JSON PCM16 body of ``--upload-mb`` MB (``serve.max_json_seconds`` raised so it is parsed);
- ``ffmpeg``: an upload libsndfile cannot read, with a fake ``ffmpeg`` on PATH that sleeps ``--ffmpeg-s`` s;
- ``wav3``: three ``--upload-mb`` MB WAV files (16 kHz mono, quiet noise) at once.
``rss_peak_mb``: the server's resident memory plus its child processes' (decode workers), polled every 50 ms.
The machine's other load is not controlled: say so beside the numbers.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(xs, q):
    return round(float(np.percentile(xs, q)) * 1000, 1) if xs else None


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (MB)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total / 1024


class Server:
    def __init__(self, repo, checkpoint, extra, env):
        self.dir = tempfile.mkdtemp(prefix="hypersp-stall-")
        self.port_file = os.path.join(self.dir, "port")
        port = free_port()
        self.url, self.ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "hypersp_cli.serve", "--app", "online_resp", "--checkpoint", checkpoint,
               "--port", str(port), "--port-file", self.port_file, "--threads", "1", "--no-ssl", *extra]
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(cmd, cwd=repo, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(open(self.log.name).read()[-3000:])
            time.sleep(0.1)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Probe:
    """The live stream, the /healthz poller and the memory poller; ``mark()`` starts a new measuring period."""

    def __init__(self, srv: Server):
        from websockets.sync.client import connect

        self.srv, self.stop_ev = srv, threading.Event()
        self.lock = threading.Lock()
        self.finals, self.health, self.rss, self.sent0 = [], [], [], []
        self._connection = connect(srv.ws_url + "/recognize", open_timeout=30, max_size=None)
        self.ws = self._connection.__enter__()
        self.threads = [threading.Thread(target=f, daemon=True) for f in (self._send, self._recv, self._poll,
                                                                           self._memory)]
        for t in self.threads:
            t.start()

    def _send(self):
        rng = np.random.default_rng(0)
        t = np.arange(1600) / 16000
        k, t_next = 0, time.perf_counter()
        while not self.stop_ev.is_set():
            x = 0.3 * np.sin(2 * np.pi * 220 * t) * (k % 5 < 3) + 0.01 * rng.standard_normal(t.size)
            self.ws.send((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
            k += 1
            if k % 5 == 0:
                with self.lock:
                    self.sent0.append(time.perf_counter())
                self.ws.send('{"state": 0}')
            t_next += 0.1
            time.sleep(max(0.0, t_next - time.perf_counter()))

    def _recv(self):
        while not self.stop_ev.is_set():
            try:
                msg = json.loads(self.ws.recv(timeout=1.0))
            except TimeoutError:
                continue
            except Exception:
                return
            if msg.get("final"):
                with self.lock:
                    self.finals.append(time.perf_counter())

    def _poll(self):
        while not self.stop_ev.is_set():
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(self.srv.url + "/healthz", timeout=30).read()
            except Exception:
                pass
            t1 = time.perf_counter()
            with self.lock:
                self.health.append((t0, t1))
            time.sleep(max(0.0, 0.05 - (t1 - t0)))

    def _memory(self):  # its own thread: a stalled server must not hide its memory peak
        while not self.stop_ev.is_set():
            rss = tree_rss_mb(self.srv.proc.pid)
            with self.lock:
                self.rss.append((time.perf_counter(), rss))
            time.sleep(0.05)

    def period(self, t0: float, t1: float) -> dict:
        """Statistics of [t0, t1]: a /healthz request counts when it overlaps the period (one that a stall holds
        past t1 too), a gap between finals also when it starts before t0 or ends after t1."""
        with self.lock:
            all_finals = list(self.finals)
            sent = list(self.sent0)
            health = [e - s for s, e in self.health if s <= t1 and e >= t0]
            rss = [r for t, r in self.rss if t0 <= t <= t1]
        # every state 0 is answered by one final, in order (the 200 ms pauses are too short for an endpoint)
        lat = [f - s for s, f in zip(sent, all_finals) if t0 <= s <= t1]
        finals = [f for f in all_finals if t0 <= f <= t1]
        before = [f for f in all_finals if f < t0][-1:]
        after = [f for f in all_finals if f > t1][:1] or [t1]
        gaps = list(np.diff(before + finals + after))
        return {"final_ms_p95": pct(lat, 95), "final_ms_max": pct(lat, 100), "finals": len(finals),
                "final_gap_ms_max": pct(list(gaps), 100), "healthz_ms_p95": pct(health, 95),
                "healthz_ms_max": pct(health, 100), "rss_peak_mb": round(max(rss), 1) if rss else None}

    def close(self):
        self.stop_ev.set()
        try:
            self._connection.__exit__(None, None, None)
        except Exception:
            pass


def post(url, body, ctype, timeout):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as err:
        return err.code
    except Exception as err:  # timeout or connection reset: reported as such
        return type(err).__name__


def json_body(mb: float) -> bytes:
    pair = b"1234,-5678,"  # 2 samples per 11 bytes: a realistic digit count for speech PCM16
    return b'{"uid": "big", "data": [' + pair * int(mb * 1e6 / len(pair)) + b"0]}"


def wav_body(mb: float) -> bytes:
    import soundfile as sf

    n = int(mb * 1e6 / 2)
    x = (np.random.default_rng(1).standard_normal(n) * 30).astype(np.int16)  # quiet noise: nothing to recognize
    buf = io.BytesIO()
    sf.write(buf, x, 16000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", default=os.path.dirname(HERE), help="checkout whose hypersp serves (default: this one)")
    ap.add_argument("--checkpoint", default="", help="default: a tiny random model (hypersp.testing)")
    ap.add_argument("--upload-mb", type=float, default=150.0)
    ap.add_argument("--ffmpeg-s", type=float, default=5.0)
    ap.add_argument("--scenario-s", type=float, default=60.0, help="longest wait for a scenario's answers (s)")
    ap.add_argument("--scenarios", nargs="+", default=["json", "ffmpeg", "wav3"])
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="hypersp-stall-bench-")
    fake = os.path.join(tmp, "bin")
    os.makedirs(fake)
    with open(os.path.join(fake, "ffmpeg"), "w") as f:
        f.write(f"#!/bin/sh\nsleep {args.ffmpeg_s}\nexit 1\n")
    os.chmod(os.path.join(fake, "ffmpeg"), 0o755)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(args.repo), PATH=fake + os.pathsep + os.environ["PATH"],
               PYTHONUNBUFFERED="1")
    checkpoint = args.checkpoint
    if not checkpoint:  # made by the served checkout's own code, so that its config schema reads it
        checkpoint = os.path.join(tmp, "tiny.pt")
        subprocess.run([sys.executable, "-c", "import sys; from hypersp.testing import make_tiny_checkpoint; "
                        "make_tiny_checkpoint(sys.argv[1])", checkpoint], check=True, cwd=args.repo,
                       env=dict(os.environ, PYTHONPATH=os.path.abspath(args.repo)))
    commit = subprocess.run(["git", "-C", args.repo, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    max_json_s = args.upload_mb * 1e6 / 5.5 / 16000 + 60  # so the json scenario's body is parsed, not refused
    srv = Server(args.repo, checkpoint, ["--max-body-mb", str(args.upload_mb * 1.1 + 1),
                                         f"serve.max_json_seconds={max_json_s:.0f}"], env)
    bodies = {"json": [(json_body(args.upload_mb), "application/json")],
              "ffmpeg": [(b"this is not audio\n" * 1000, "application/octet-stream")],
              "wav3": [(wav_body(args.upload_mb), "audio/wav")] * 3}
    out = {"repo": os.path.abspath(args.repo), "commit": commit, "checkpoint": args.checkpoint or "tiny (random)",
           "upload_mb": args.upload_mb, "ffmpeg_s": args.ffmpeg_s, "cpus": os.cpu_count(), "scenarios": {}}
    probe = Probe(srv)
    try:
        time.sleep(3.0)
        t0 = time.perf_counter()
        time.sleep(3.0)
        out["idle"] = probe.period(t0, time.perf_counter())
        for name in args.scenarios:
            statuses = [None] * len(bodies[name])

            def send(i, body, ctype):
                statuses[i] = post(srv.url + "/recognize", body, ctype, args.scenario_s)

            threads = [threading.Thread(target=send, args=(i, b, c)) for i, (b, c) in enumerate(bodies[name])]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            t1 = time.perf_counter()
            out["scenarios"][name] = {"statuses": statuses, "seconds": round(t1 - t0, 2), **probe.period(t0, t1)}
            time.sleep(2.0)
    finally:
        probe.close()
        srv.stop()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
