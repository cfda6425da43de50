"""Model compute off the event loop, with micro-batching across streams.

One ``InferenceWorker`` per model replica:
- streaming steps: connections ``await worker.decode(stream, final)``; a consumer task collects
  whatever requests are queued (waiting at most ``max_wait_ms`` for more, up to ``max_batch``),
  runs ``StreamingRecognizer.step`` for all of them as one padded batch on a dedicated thread,
  and resolves each connection's future (the sherpa-onnx pattern, serving-notes.md 1.3);
- finals: when a step closes utterances, their second pass (``StreamingRecognizer.finalize``: VAD, beam
  search, LM) runs on a thread of its own, and only those connections wait for it. Partial steps of the
  other streams go on meanwhile, so finals never queue behind partials nor partials behind a burst of
  finals, and the two threads keep both cores busy. A burst (many streams ending in the same step) is
  finalized in groups of about one forward batch of audio (``Recognizer.batch_seconds``), and each group's
  connections get their finals as soon as it is done, not when the whole burst is: the same work, most
  finals sooner;
- offline jobs (whole files) run on a third thread, so a long upload never stalls live streams.
  The threads share the model: inference under ``torch.no_grad`` is thread-safe.
The event loop itself only parses messages and moves numpy buffers.
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional

from hypersp.serve.admission import StreamLoad
from hypersp.serve.metrics import Metrics


class InferenceWorker:
    # At most this many connections per call of the finals' second pass (finals from streamed frames have no
    # audio to batch; a group's call and its hand-back cost about 0.1 ms).
    FINAL_GROUP = 8

    def __init__(self, streaming, metrics: Metrics, max_batch: int = 32, max_wait_ms: float = 5.0):
        self.streaming = streaming  # StreamingRecognizer
        self.recognizer = streaming.recognizer
        self.metrics = metrics
        self.max_batch = int(max_batch)
        self.max_wait = max_wait_ms / 1000.0
        self.stream_pool = ThreadPoolExecutor(1, thread_name_prefix="hypersp-stream")
        self.final_pool = ThreadPoolExecutor(1, thread_name_prefix="hypersp-final")
        self._finals: set = set()  # finalization tasks in flight (a reference keeps them alive)
        self.offline_pool = ThreadPoolExecutor(1, thread_name_prefix="hypersp-offline")
        self.queue: "asyncio.Queue" = None
        self.load = StreamLoad()  # queue delay, busy fraction and real-time factor, for admission (admission.py)
        self._task = None

    def start(self) -> None:
        self.queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._consume())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for task in list(self._finals):
            task.cancel()
        self.stream_pool.shutdown(wait=False, cancel_futures=True)
        self.final_pool.shutdown(wait=False, cancel_futures=True)
        self.offline_pool.shutdown(wait=False, cancel_futures=True)

    async def decode(self, stream, final: bool = False) -> List[Dict[str, Any]]:
        """Queue one decode step for ``stream``; returns its events."""
        fut = asyncio.get_running_loop().create_future()
        await self.queue.put((stream, final, fut, time.perf_counter()))
        return await fut

    async def run_offline(self, fn: Callable, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.offline_pool, lambda: fn(*args, **kwargs))

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                try:
                    timeout = deadline - loop.time()
                    batch.append(self.queue.get_nowait() if timeout <= 0 else
                                 await asyncio.wait_for(self.queue.get(), timeout))
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            batch = [b for b in batch if not b[2].done()]  # the client may be gone
            if not batch:
                continue
            streams = [b[0] for b in batch]
            finals = [b[1] for b in batch]
            t0 = time.perf_counter()
            audio_s = sum(s.inbox_samples for s in streams) / self.recognizer.sample_rate  # what this batch decodes
            try:
                results, closing = await loop.run_in_executor(self.stream_pool, self.streaming.step, streams, finals)
            except Exception as err:  # never let one bad batch kill the consumer
                for _, _, fut, _ in batch:
                    if not fut.done():
                        fut.set_exception(err)
                continue
            t1 = time.perf_counter()
            self.load.record(t0, t1, [t0 - b[3] for b in batch], audio_s)
            self.metrics.observe("hypersp_batch_seconds", t1 - t0)
            self.metrics.observe("hypersp_batch_size", len(batch), buckets=(1, 2, 4, 8, 16, 32, 64))
            waiting = []  # (future, events) of the connections whose events include a final
            for (_, _, fut, _), events in zip(batch, results):
                if any(ev["final"] for ev in events):
                    waiting.append((fut, events))
                elif not fut.done():
                    fut.set_result(events)
            if waiting:
                task = loop.create_task(self._finalize(closing, waiting))
                self._finals.add(task)
                task.add_done_callback(self._finals.discard)

    async def _finalize(self, closing, waiting) -> None:
        """The finals' second pass on the final thread, group by group (:meth:`final_groups`); each group's
        connections get their events as soon as that group is done. A failure reaches the connections it
        concerns as their error (a group's; everyone's if the grouping itself fails) and the other groups go on,
        so no connection waits forever."""
        try:
            groups = self.final_groups(closing, waiting)
        except Exception as err:
            self._answer(waiting, err)
            return
        loop = asyncio.get_running_loop()
        for part, group in groups:
            t0 = time.perf_counter()
            try:
                await loop.run_in_executor(self.final_pool, self.streaming.finalize, part, [ev for _, ev in group])
            except Exception as err:
                self._answer(group, err)
                continue
            t1 = time.perf_counter()
            self.load.record(t0, t1, [], 0.0)  # compute the streams cost too (their RTF), no audio of its own
            self.metrics.observe("hypersp_final_seconds", t1 - t0)
            self._answer(group)

    @staticmethod
    def _answer(waiting, err: Optional[Exception] = None) -> None:
        """Resolve each ``(future, events)`` of ``waiting`` with its events, or with ``err``; a future already
        done (the client is gone) is left alone."""
        for fut, events in waiting:
            if fut.done():
                continue
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(events)

    def final_groups(self, closing, waiting):
        """``closing`` (the step's utterances to finalize) and ``waiting`` (``(future, events)`` of their
        connections) -> ``[(closing part, waiting part)]``: consecutive connections whose utterances fill at most
        one forward batch (``batch_seconds`` of audio; at least one connection, at most ``FINAL_GROUP``)."""
        owner = {id(ev): k for k, (_, events) in enumerate(waiting) for ev in events}
        seconds = [0.0] * len(waiting)  # audio of each connection's full-pass finals
        parts: List[List[Dict[str, Any]]] = [[] for _ in waiting]
        for c in closing:
            k = owner.get(id(c["event"]), 0)  # (each is one of the waiting events; never left out if not)
            parts[k].append(c)
            seconds[k] += len(c.get("audio", ())) / self.recognizer.sample_rate
        budget = self.recognizer.batch_seconds
        groups, start = [], 0
        while start < len(waiting):
            end, total = start + 1, seconds[start]
            while end < len(waiting) and end - start < self.FINAL_GROUP and total + seconds[end] <= budget:
                total += seconds[end]
                end += 1
            groups.append(([c for k in range(start, end) for c in parts[k]], waiting[start:end]))
            start = end
        return groups
