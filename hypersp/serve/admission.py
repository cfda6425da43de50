"""Admission of live streams under load: a stream is admitted only while the streaming worker keeps up.

The ``InferenceWorker`` reports every micro-batch to a :class:`StreamLoad`: when it ran, how long each of its
steps waited in the queue, and how much audio it decoded; and every second pass of finals (on its own thread:
compute, with no queue delay or audio of its own). Over the last ``window_s`` seconds that gives

- ``queue_delay_p95``: the 95th percentile wait of a streaming step before its batch started (s) — what every
  partial and final is late by, on top of the compute;
- ``load``: the worker's busy fraction (compute seconds of both threads / wall seconds, at most 1.0);
- ``rtf``: the real-time factor of the streaming worker (compute seconds / audio seconds decoded).

:class:`StreamAdmission` refuses a new stream (WebSocket close 1013, "try again later", with the reason) when
the recent queue delay is over ``serve.max_stream_lag_s``, or when one more stream would push the predicted
load over ``serve.max_stream_load``. A live stream sends about one second of audio per second, so with
``n + 1`` streams the worker would be busy ``rtf * (n + 1)`` of the time. The RTF is measured, not assumed:
it follows the model, the machine and whatever else runs on it, and it does not lag behind streams that
just arrived (a busy fraction averaged over the window would). It is conservative: batching makes a stream
cheaper as more join, and an open stream that is silent costs nothing. With no stream open, or before the
first measurement, a stream is admitted (up to ``serve.max_streams``, checked first); a burst that arrives
before the first measurement is admitted, and the lag check refuses the next ones.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Deque, Dict, Optional, Sequence, Tuple

import numpy as np


class StreamLoad:
    """A sliding window of the streaming worker's batches; ``record`` from the worker, ``snapshot`` anywhere."""

    def __init__(self, window_s: float = 5.0, clock=time.perf_counter):
        self.window_s = float(window_s)
        self.clock = clock
        self._lock = threading.Lock()
        # (start, end, queue delays of the batch's steps (s), audio decoded (s)), oldest first
        self._batches: Deque[Tuple[float, float, Sequence[float], float]] = deque()

    def record(self, start: float, end: float, queue_delays: Sequence[float], audio_s: float) -> None:
        """One batch: ``start``/``end`` on ``clock`` (s), each step's wait before ``start`` (s), audio decoded (s)."""
        with self._lock:
            self._batches.append((start, end, list(queue_delays), float(audio_s)))
            self._trim(end)

    def _trim(self, now: float) -> None:
        while self._batches and self._batches[0][1] < now - self.window_s:
            self._batches.popleft()

    def snapshot(self, now: Optional[float] = None) -> Dict[str, float]:
        """``{"load", "rtf", "queue_delay_p95", "batches"}`` over the last ``window_s`` seconds (zeros when idle)."""
        now = self.clock() if now is None else now
        with self._lock:
            self._trim(now)
            batches = list(self._batches)
        if not batches:
            return {"load": 0.0, "rtf": 0.0, "queue_delay_p95": 0.0, "batches": 0}
        busy = sum(end - max(start, now - self.window_s) for start, end, _, _ in batches)
        audio = sum(a for *_, a in batches)
        delays = [d for _, _, ds, _ in batches for d in ds]
        return {"load": min(1.0, busy / self.window_s), "rtf": busy / audio if audio > 0 else 0.0,
                "queue_delay_p95": float(np.percentile(delays, 95)) if delays else 0.0, "batches": len(batches)}


class StreamAdmission:
    """``refusal(open_streams)`` -> None to admit one more stream, or the reason to refuse it."""

    def __init__(self, load: StreamLoad, max_lag_s: float, max_load: float):
        self.load, self.max_lag_s, self.max_load = load, float(max_lag_s), float(max_load)

    def refusal(self, open_streams: int) -> Optional[Tuple[str, str]]:
        """``(short reason for /metrics, message for the client)``, or None to admit."""
        if open_streams <= 0:
            return None
        m = self.load.snapshot()
        if m["queue_delay_p95"] > self.max_lag_s:
            return "lag", (f"server busy: streams wait {m['queue_delay_p95']:.2f} s for the recognizer "
                           f"(serve.max_stream_lag_s={self.max_lag_s:g}); try again later")
        predicted = m["rtf"] * (open_streams + 1)
        if predicted > self.max_load:
            return "load", (f"server busy: real-time factor {m['rtf']:.2f} x {open_streams + 1} streams = "
                            f"{predicted:.0%} load (serve.max_stream_load={self.max_load:g}); try again later")
        return None
