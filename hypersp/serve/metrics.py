"""Prometheus-style counters, gauges and latency histograms, rendered as text for ``GET /metrics``.

Single-process and touched from the event loop and one worker thread; a lock keeps it consistent.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from typing import Dict, Tuple

BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Labels = Tuple[Tuple[str, str], ...]


def _labels(**kw) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in kw.items()))


def _fmt(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}" if labels else ""


class Metrics:
    HELP = {
        "hypersp_requests_total": ("counter", "HTTP recognize requests and WebSocket sessions, by app and kind"),
        "hypersp_errors_total": ("counter", "rejected requests/messages, by app, HTTP status or WebSocket close code, and reason"),
        "hypersp_streams_open": ("gauge", "open streaming sessions"),
        "hypersp_streams_refused_total": ("counter", "sessions refused (close 1013), by reason: streams (serve.max_streams), "
                                                       "lag (serve.max_stream_lag_s), load (serve.max_stream_load)"),
        "hypersp_stream_load": ("gauge", "busy fraction of the streaming worker over the last 5 s"),
        "hypersp_stream_rtf": ("gauge", "real-time factor of the streaming worker (compute s / audio s), last 5 s"),
        "hypersp_stream_queue_delay_p95": ("gauge", "p95 wait of a streaming step in the worker queue (s), last 5 s"),
        "hypersp_uploads_in_flight": ("gauge", "HTTP uploads being read, decoded or recognized"),
        "hypersp_upload_bytes_in_flight": ("gauge", "declared bytes of those uploads"),
        "hypersp_uploads_refused_total": ("counter", "uploads refused with 503, by reason: uploads (serve.max_uploads), "
                                                       "bytes (serve.max_upload_mb_in_flight)"),
        "hypersp_upload_read_seconds": ("histogram", "time to receive an upload's body (s)"),
        "hypersp_upload_decode_seconds": ("histogram", "time to parse/decode an upload in a decode process (s)"),
        "hypersp_results_total": ("counter", "streaming results sent, by final"),
        "hypersp_request_seconds": ("histogram", "offline request latency (s)"),
        "hypersp_batch_seconds": ("histogram", "model time per streaming micro-batch (s)"),
        "hypersp_batch_size": ("histogram", "streams per micro-batch"),
        "hypersp_final_seconds": ("histogram", "second pass of the finals closed by one micro-batch, on the final "
                                               "thread (s)"),
        "hypersp_audio_seconds_total": ("counter", "audio received (s)"),
    }

    def __init__(self):
        self._lock = threading.Lock()
        self.values: Dict[str, Dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self.hist: Dict[str, Dict[Labels, list]] = defaultdict(dict)

    def inc(self, name: str, value: float = 1.0, **labels) -> None:
        with self._lock:
            self.values[name][_labels(**labels)] += value

    def set(self, name: str, value: float, **labels) -> None:
        with self._lock:
            self.values[name][_labels(**labels)] = value

    def get(self, name: str, **labels) -> float:
        with self._lock:
            return self.values[name].get(_labels(**labels), 0.0)

    def observe(self, name: str, value: float, buckets=BUCKETS, **labels) -> None:
        with self._lock:
            h = self.hist[name].setdefault(_labels(**labels), [list(buckets), [0] * len(buckets), 0.0, 0])
            for i, b in enumerate(h[0]):
                if value <= b:
                    h[1][i] += 1
            h[2] += value
            h[3] += 1

    def render(self) -> str:
        out = []
        with self._lock:
            names = sorted(set(self.values) | set(self.hist) | set(self.HELP))
            for name in names:
                kind, text = self.HELP.get(name, ("untyped", name))
                out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}")
                for labels, v in sorted(self.values.get(name, {}).items()):
                    out.append(f"{name}{_fmt(labels)} {v:g}")
                for labels, (buckets, counts, total, n) in sorted(self.hist.get(name, {}).items()):
                    for b, c in zip(buckets, counts):
                        out.append(f"{name}_bucket{_fmt(labels + (('le', f'{b:g}'),))} {c}")
                    out.append(f"{name}_bucket{_fmt(labels + (('le', '+Inf'),))} {n}")
                    out.append(f"{name}_sum{_fmt(labels)} {total:g}")
                    out.append(f"{name}_count{_fmt(labels)} {n}")
        return "\n".join(out) + "\n"
