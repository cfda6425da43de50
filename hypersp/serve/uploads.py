"""HTTP uploads off the event loop: admission, a body read timeout, and decoding in worker processes.

The event loop only moves bytes. For ``POST /recognize`` (and the subtitle jobs) a handler

1. asks the :class:`UploadGate` for a slot before reading the body: at most ``serve.max_uploads`` uploads
   and ``serve.max_upload_mb_in_flight`` MB (by Content-Length) are admitted at once, from the first byte
   read until recognition is done; beyond that the client gets 503 with ``Retry-After`` (counted in
   ``hypersp_uploads_refused_total{reason}``); its body is not stored (Sanic reads and drops it after the
   answer, since HTTP/1 clients read the answer only once they have sent the body);
2. streams the body to a private temporary file, chunk by chunk; a client that sends nothing for
   ``serve.body_timeout_s`` gets 408 and its connection is closed at once (a stalled upload holds nothing for long);
3. hands the file to the :class:`DecodePool`: ``serve.decode_workers`` processes run JSON parsing, multipart
   parsing, audio decoding, resampling and ffmpeg (``server.request_audio``, unchanged) — in a process,
   because ``json.loads`` of a large body holds the GIL for seconds and would stall a thread's neighbours;
   the samples come back as a ``.npy`` file mapped into memory (copy-on-write), never pickled through a pipe;
4. then recognition runs on the offline worker thread (``InferenceWorker.run_offline``).

So the server process holds no upload body in memory, and at most ``decode_workers`` bodies are decoded at a
time; queued work is bounded by the gate.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Dict, Optional, Tuple

import numpy as np

from hypersp.serve.protocol import ProtocolError

log = logging.getLogger("hypersp.serve")

RETRY_AFTER_S = 5  # what a refused client is told to wait (s): about one offline request on a busy server


class Busy(ProtocolError):
    """503: the server is at its upload limits; ``retry_after`` seconds go into the ``Retry-After`` header."""

    def __init__(self, message: str, reason: str, retry_after: int = RETRY_AFTER_S):
        super().__init__(message, status=503)
        self.reason, self.retry_after = reason, retry_after


class UploadGate:
    """Counts uploads and their bytes (by Content-Length) against the limits; single event loop, no lock.

    ``admit(nbytes)`` returns a token to pass to ``release`` or raises :class:`Busy`. An upload alone is always
    admitted (its size is checked against ``max_body_mb`` elsewhere), so the byte cap never starves a big file."""

    def __init__(self, max_uploads: int, max_bytes: float, metrics):
        self.max_uploads, self.max_bytes, self.metrics = int(max_uploads), float(max_bytes), metrics
        self.uploads, self.bytes = 0, 0

    def admit(self, nbytes: int) -> int:
        if self.uploads >= self.max_uploads:
            self._refuse("uploads", f"서버가 바쁩니다: 업로드 {self.uploads}개를 처리하고 있습니다 (server busy: "
                                    f"{self.uploads} uploads in progress, serve.max_uploads); "
                                    f"{RETRY_AFTER_S}초 뒤에 다시 시도하세요")
        if self.uploads and self.bytes + nbytes > self.max_bytes:
            self._refuse("bytes", f"서버가 바쁩니다: 처리 중인 업로드가 {self.bytes / 1e6:.0f} MB입니다 (server busy: "
                                  f"{self.bytes / 1e6:.0f} MB of uploads in flight, serve.max_upload_mb_in_flight="
                                  f"{self.max_bytes / 1e6:g}); {RETRY_AFTER_S}초 뒤에 다시 시도하세요")
        self.uploads += 1
        self.bytes += nbytes
        self._publish()
        return nbytes

    def release(self, token: int) -> None:
        self.uploads -= 1
        self.bytes -= token
        self._publish()

    def _refuse(self, reason: str, message: str) -> None:
        self.metrics.inc("hypersp_uploads_refused_total", reason=reason)
        raise Busy(message, reason)

    def _publish(self) -> None:
        self.metrics.set("hypersp_uploads_in_flight", self.uploads)
        self.metrics.set("hypersp_upload_bytes_in_flight", self.bytes)


# ---- reading the body ------------------------------------------------------------------------
def content_length(request, max_bytes: int) -> int:
    """The declared body size (bytes); a chunked body counts as ``max_bytes`` (its size is unknown).
    Raises ProtocolError 413 when the declared size is over the limit, before any byte is read."""
    raw = request.headers.get("content-length")
    if raw is None:
        return max_bytes
    n = int(raw)  # Sanic has already refused a malformed Content-Length (400)
    if n > max_bytes:
        raise ProtocolError(f"파일이 너무 큽니다: 최대 {max_bytes / 1e6:g} MB까지 올릴 수 있습니다 (serve.max_body_mb)",
                            status=413, reason="too_large")
    return n


async def spool_body(request, path: str, max_bytes: int, timeout_s: float) -> int:
    """Write the body of a streaming ``request`` to ``path`` as it arrives; returns its size in bytes.

    Raises ProtocolError 408 when no byte arrives for ``timeout_s`` seconds, 413 past ``max_bytes``.
    The chunks are the socket's reads (kilobytes): writing them to a file is a memory copy into the page cache."""
    size = 0
    with open(path, "wb") as f:
        while True:
            try:
                chunk = await asyncio.wait_for(request.stream.read(), timeout_s)
            except asyncio.TimeoutError:
                raise ProtocolError(f"업로드가 멈췄습니다: {timeout_s:g}초 동안 데이터가 오지 않았습니다 (upload stalled: no "
                                    f"data for {timeout_s:g} s, serve.body_timeout_s); 다시 올리세요", status=408,
                                    reason="body_timeout") from None
            if chunk is None:
                return size
            size += len(chunk)
            if size > max_bytes:
                raise ProtocolError(f"파일이 너무 큽니다: 최대 {max_bytes / 1e6:g} MB까지 올릴 수 있습니다 "
                                    "(serve.max_body_mb)", status=413, reason="too_large")
            f.write(chunk)


def close_after_response(request) -> None:
    """Close the connection once the response is sent, without reading the rest of the body.

    Sanic would otherwise wait for the rest of a stalled body (up to its keep-alive timeout); ``keep_alive`` and
    ``request_body`` are the attributes its HTTP/1 loop checks for that."""
    stream = getattr(request, "stream", None)
    if stream is not None and hasattr(stream, "keep_alive"):
        stream.keep_alive = False
        stream.request_body = None


# ---- decoding in worker processes ------------------------------------------------------------
class SpooledRequest:
    """What ``server.request_audio`` reads of a request (``content_type``, ``headers``, ``body``, ``files``,
    ``form``), rebuilt in a decode process from the spooled body file."""

    def __init__(self, path: str, content_type: str, headers: Dict[str, str]):
        with open(path, "rb") as f:
            self.body = f.read()
        self.content_type, self.headers = content_type, headers
        self._form: Optional[Tuple[Any, Any]] = None

    def _multipart(self):
        if self._form is None:
            from sanic.request.form import parse_content_header, parse_multipart_form

            _, params = parse_content_header(self.content_type)
            boundary = params.get("boundary")
            if not boundary:
                raise ProtocolError("multipart upload without a boundary in its Content-Type", reason="content_type")
            self._form = parse_multipart_form(self.body, str(boundary).encode("utf-8"))
        return self._form

    @property
    def form(self):
        return self._multipart()[0]

    @property
    def files(self):
        return self._multipart()[1]


# Commas bound the number of JSON list items; a body with far more than max_samples of them is refused before
# json.loads turns each number into a Python int (36 bytes each). The margin covers commas in other fields
# (hotwords: at most 100 x 50 characters).
JSON_COMMA_MARGIN = 10_000


def decode_spooled(path: str, content_type: str, headers: Dict[str, str], sample_rate: int,
                   max_samples: int) -> Dict[str, Any]:
    """Runs in a decode process: the spooled body at ``path`` -> ``{"audio": NPY_PATH (C, S) float32, "rate": Hz,
    "meta": {...}, "settings": {...}}``, or ``{"error": the ProtocolError's attributes}``."""
    from hypersp.serve.server import request_audio

    try:
        req = SpooledRequest(path, content_type, headers)
        if req.body[:1] in (b"{", b"[") and req.body.count(b",") > max_samples + JSON_COMMA_MARGIN:
            raise ProtocolError(f"'data' holds more than {max_samples} samples; at most {max_samples} are accepted "
                                "(serve.max_json_seconds)", status=413, reason="too_large")
        x, rate, meta, settings = request_audio(req, sample_rate, max_samples)
    except ProtocolError as err:  # its attributes (message, status, codes, reason) travel back as a dict
        return {"error": dict(vars(err))}
    out = path + ".npy"
    np.save(out, np.ascontiguousarray(x, dtype=np.float32))
    return {"audio": out, "rate": int(rate), "meta": meta, "settings": settings}


def _warm() -> int:
    import hypersp.serve.server  # noqa: F401  (import once at start-up, not on the first upload)

    return os.getpid()


class DecodePool:
    """``workers`` decode processes (spawned: no copy of the model or of the server's threads) and the
    private folder where bodies are spooled. ``start()`` at server start, ``close()`` at stop."""

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))
        self.pool: Optional[ProcessPoolExecutor | ThreadPoolExecutor] = None
        self.dir = ""

    def start(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="hypersp-uploads-")
        self._new_pool()

    def _new_pool(self) -> None:
        if multiprocessing.current_process().daemon:
            # A worker of `hypersp-serve --workers N` is a daemonic process (Sanic's), and those may not have
            # children: decode in threads there. Large JSON bodies then hold this worker's interpreter while they
            # parse (the other workers keep serving).
            log.warning("decoding uploads in %d thread(s): this server process (a --workers worker) may not start "
                        "decode processes", self.workers)
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="hypersp-decode")
        else:
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(self.workers):
            self.pool.submit(_warm)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def new_path(self) -> str:
        fd, path = tempfile.mkstemp(dir=self.dir, suffix=".body")
        os.close(fd)
        return path

    async def decode(self, path: str, request, sample_rate: int, max_samples: int) -> tuple:
        """The spooled body at ``path`` -> ``(samples (C, S) float32, rate, meta, settings)`` as
        ``server.request_audio`` returns them; the samples are a copy-on-write map of a deleted file."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            out = await loop.run_in_executor(pool, decode_spooled, path, request.content_type, headers,
                                             sample_rate, max_samples)
        except BrokenProcessPool:  # a decode process died (killed, out of memory): the next upload gets new ones
            if self.pool is pool:  # the first of the uploads it failed replaces it
                pool.shutdown(wait=False, cancel_futures=True)
                self._new_pool()
            err = ProtocolError("업로드를 읽던 프로세스가 중단되었습니다 (the process decoding this upload died, "
                                "e.g. out of memory); 다시 시도하세요", status=500)
            err.reason = "decoder_died"
            raise err from None
        finally:
            if os.path.exists(path):
                os.unlink(path)
        if "error" in out:
            err = ProtocolError(out["error"]["message"])
            err.__dict__.update(out["error"])
            raise err
        x = np.load(out["audio"], mmap_mode="c")
        os.unlink(out["audio"])  # the mapping keeps the data; the name goes now
        return x, out["rate"], out["meta"], out["settings"]


class Upload:
    """``async with Upload(request, server, app) as up: x, rate, meta, settings = await up.audio()`` — admission,
    spooling and decoding of one upload; the slot is held until the block ends (recognition included).
    Raises ProtocolError (413 too large, 408 stalled, 503 :class:`Busy`); see :func:`refusal_response`."""

    def __init__(self, request, server, sample_rate: int):
        self.request, self.server, self.sample_rate = request, server, sample_rate
        self.token: Optional[int] = None

    def admit(self) -> None:
        """Take a slot for this upload (before any byte of the body is read), or raise 413 / :class:`Busy`."""
        self.max_bytes = int(self.server.cfg.max_body_mb * 1_000_000)
        self.token = self.server.uploads.admit(content_length(self.request, self.max_bytes))

    async def __aenter__(self) -> "Upload":
        self.admit()
        return self

    async def audio(self) -> tuple:
        cfg, pool = self.server.cfg, self.server.decoders
        path = pool.new_path()
        t0 = time.perf_counter()
        try:
            await spool_body(self.request, path, self.max_bytes, cfg.body_timeout_s)
        except BaseException:
            os.unlink(path)
            raise
        self.server.metrics.observe("hypersp_upload_read_seconds", time.perf_counter() - t0)
        t0 = time.perf_counter()
        out = await pool.decode(path, self.request, self.sample_rate, int(cfg.max_json_seconds * self.sample_rate))
        self.server.metrics.observe("hypersp_upload_decode_seconds", time.perf_counter() - t0)
        return out

    def release(self) -> None:
        if self.token is not None:
            self.server.uploads.release(self.token)
            self.token = None

    async def __aexit__(self, *exc) -> None:
        self.release()


def refusal_response(err: ProtocolError, request, server, app_name: str):
    """The error response of a refused upload: ``{"error"}`` with its status (counted by ``error_response``),
    ``Retry-After`` on 503. After a 408 the connection is closed; after a 503 or 413 Sanic drops the unread body
    as it arrives (413: closes), so that a client that sends its whole body before reading still gets the answer."""
    from hypersp.serve.responses import error_response

    resp = error_response(err, server, app_name)
    if isinstance(err, Busy):
        resp.headers["Retry-After"] = str(err.retry_after)
    if err.status == 408:
        close_after_response(request)
    return resp
