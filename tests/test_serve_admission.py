"""Admission of live streams under load (issue 15 part 5): a stream is admitted only while the streaming worker
keeps up (measured queue delay and real-time factor); the others are refused with close 1013 and a reason, and
the accepted ones keep their p95 final latency under the bound.

In process, no model: the real ``InferenceWorker`` and ``StreamSlot`` drive a stand-in recognizer whose compute
is a sleep of a known cost per second of audio it decodes (a sleep, like torch, leaves the GIL), so the capacity
is known: real-time factor 0.2, at most 4 streams under ``max_stream_load=0.9``. Clients send audio in real time
whether or not the server keeps up, as microphones do; what the server has not decoded waits in the stream."""
import asyncio
import time
from types import SimpleNamespace

import numpy as np
import pytest

from hypersp.config.schema import ServeConfig
from hypersp.serve.admission import StreamAdmission, StreamLoad
from hypersp.serve.metrics import Metrics

RATE = 16000
STEP_S = 0.1  # audio per message
RTF = 0.2  # compute seconds per audio second decoded


def test_window_measures_load_rtf_and_queue_delay():
    now = [100.0]
    load = StreamLoad(window_s=5.0, clock=lambda: now[0])
    assert load.snapshot() == {"load": 0.0, "rtf": 0.0, "queue_delay_p95": 0.0, "batches": 0}
    for i in range(50):  # every 100 ms: 30 ms of compute for 0.3 s of audio (3 streams), waits 0..49 ms
        t = 95.0 + i * 0.1
        load.record(t, t + 0.03, [i / 1000.0], 0.3)
    m = load.snapshot()
    assert m["batches"] == 50
    assert m["load"] == pytest.approx(0.3, abs=0.01)
    assert m["rtf"] == pytest.approx(0.1, abs=0.005)
    assert m["queue_delay_p95"] == pytest.approx(np.percentile(np.arange(50) / 1000.0, 95))
    now[0] = 110.0  # nothing for longer than the window: idle again
    assert load.snapshot()["batches"] == 0


def test_refusal_reasons():
    now = [0.0]
    load = StreamLoad(window_s=5.0, clock=lambda: now[0])
    adm = StreamAdmission(load, max_lag_s=0.5, max_load=0.9)
    assert adm.refusal(0) is None  # nothing to measure
    load.record(0.0, 0.2, [0.0], 1.0)  # RTF 0.2
    now[0] = 1.0
    assert adm.refusal(3) is None  # 0.2 x 4 = 0.8
    kind, message = adm.refusal(4)  # 0.2 x 5 = 1.0 > 0.9
    assert kind == "load" and "serve.max_stream_load=0.9" in message and "0.20" in message
    load.record(1.0, 1.01, [2.0], 1.0)  # a step waited 2 s
    kind, message = adm.refusal(1)
    assert kind == "lag" and "serve.max_stream_lag_s=0.5" in message
    for msg in (message, adm.refusal(40)[1]):
        assert len(msg.encode()) <= 123  # fits a WebSocket close reason


class SleepyStreaming:
    """Stands in for ``StreamingRecognizer``: ``step`` ingests the streams' inboxes at ``RTF`` (a sleep); a
    forced final answers a final event, whose second pass (``finalize``) costs nothing here."""

    recognizer = SimpleNamespace(sample_rate=RATE, batch_seconds=32.0)

    def step(self, streams, finals):
        taken = [s.inbox_samples for s in streams]  # audio that arrives meanwhile waits for the next step
        time.sleep(RTF * sum(taken) / RATE)
        out = []
        for s, n, final in zip(streams, taken, finals):
            s.inbox_samples -= n
            out.append([{"text": "", "final": bool(final)}])
        return out, []

    def finalize(self, closing, events):
        pass


class FakeWs:
    def __init__(self):
        self.closed = None

    async def send(self, text):
        pass

    async def close(self, code, reason):
        self.closed = (code, reason)


async def client(server, app, seconds, result):
    """One live client: admission, then ``seconds`` of audio in real time, then the end of the utterance; records
    the time from its last audio to the final (the final latency). The session decodes whenever a step of audio
    is waiting, as ``server._stream_session`` does; the audio arrives on its own clock."""
    from hypersp.serve.server import StreamSlot

    ws = FakeWs()
    async with StreamSlot(server, app, ws) as admitted:
        if not admitted:
            result.append(("refused", ws.closed))
            return
        stream = SimpleNamespace(inbox_samples=0)
        spoken = asyncio.Event()
        t_end = 0.0

        async def microphone():
            nonlocal t_end
            t_next = time.perf_counter()
            for _ in range(int(seconds / STEP_S)):
                stream.inbox_samples += int(STEP_S * RATE)
                t_end = time.perf_counter()
                t_next += STEP_S
                await asyncio.sleep(max(0.0, t_next - time.perf_counter()))
            spoken.set()

        mic = asyncio.create_task(microphone())
        while not spoken.is_set():
            if stream.inbox_samples >= STEP_S * RATE:
                await server.worker.decode(stream)
            else:
                await asyncio.sleep(0.005)
        await mic
        events = await server.worker.decode(stream, True)
        assert events[-1]["final"]
        result.append(("final", time.perf_counter() - t_end))


@pytest.mark.slow
def test_excess_streams_are_refused_and_accepted_ones_keep_up():
    from hypersp.serve.worker import InferenceWorker

    cfg = ServeConfig(max_streams=64, max_stream_lag_s=0.3, max_stream_load=0.9, max_wait_ms=5.0)
    bound_s = 0.5  # the final-latency bound the accepted streams must keep (p95)
    metrics = Metrics()
    worker = InferenceWorker(SleepyStreaming(), metrics, cfg.max_batch, cfg.max_wait_ms)
    server = SimpleNamespace(cfg=cfg, metrics=metrics, worker=worker, open_streams=0,
                             admission=StreamAdmission(worker.load, cfg.max_stream_lag_s, cfg.max_stream_load))
    app = SimpleNamespace(name="online_resp")
    result = []

    async def main():
        worker.start()
        clients = []
        for i in range(10):  # 10 clients arriving 0.3 s apart, each streaming 3 s: twice the capacity
            clients.append(asyncio.create_task(client(server, app, 3.0, result)))
            await asyncio.sleep(0.3)
        await asyncio.gather(*clients)
        await worker.stop()

    asyncio.run(main())
    finals = [r[1] for r in result if r[0] == "final"]
    refused = [r[1] for r in result if r[0] == "refused"]
    assert 3 <= len(finals) <= 5, result  # capacity: RTF 0.2 -> 4 streams under 0.9
    assert len(refused) == 10 - len(finals)
    for code, reason in refused:
        assert code == 1013 and "server busy" in reason and "serve.max_stream" in reason
    assert np.percentile(finals, 95) < bound_s, finals
    assert metrics.get("hypersp_streams_refused_total", app="online_resp", reason="load") + \
        metrics.get("hypersp_streams_refused_total", app="online_resp", reason="lag") == len(refused)


@pytest.mark.slow
def test_without_admission_the_same_load_breaks_the_bound():
    """The control: with admission switched off (limits that never refuse) all ten are accepted and their
    finals come late — so the test above measures admission, not an easy load."""
    from hypersp.serve.worker import InferenceWorker

    cfg = ServeConfig(max_streams=64, max_stream_lag_s=1e9, max_stream_load=1e9, max_wait_ms=5.0)
    metrics = Metrics()
    worker = InferenceWorker(SleepyStreaming(), metrics, cfg.max_batch, cfg.max_wait_ms)
    server = SimpleNamespace(cfg=cfg, metrics=metrics, worker=worker, open_streams=0,
                             admission=StreamAdmission(worker.load, cfg.max_stream_lag_s, cfg.max_stream_load))
    result = []

    async def main():
        worker.start()
        clients = []
        for _ in range(10):
            clients.append(asyncio.create_task(client(server, SimpleNamespace(name="x"), 3.0, result)))
            await asyncio.sleep(0.3)
        await asyncio.gather(*clients)
        await worker.stop()

    asyncio.run(main())
    finals = [r[1] for r in result if r[0] == "final"]
    assert len(finals) == 10
    assert np.percentile(finals, 95) > 2 * 0.5, finals  # seconds late, against 0.5 s with admission
