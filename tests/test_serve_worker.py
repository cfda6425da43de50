"""The streaming worker runs the finals' second pass on a thread of its own (issue 18 part 2): a final that takes
long (beam search + LM over a long utterance) never holds up the partial steps of other streams, and a stream
waiting for its final gets its events in order. In process, no model: a stand-in recognizer whose step is
instant and whose second pass is a sleep (a sleep, like torch, leaves the GIL)."""
import asyncio
import time
from types import SimpleNamespace

import numpy as np
import pytest

from hypersp.serve.metrics import Metrics
from hypersp.serve.worker import InferenceWorker

FINAL_PASS_S = 1.0


class SlowFinals:
    recognizer = SimpleNamespace(sample_rate=16000, batch_seconds=32.0)

    def __init__(self):
        self.finalized = []

    def step(self, streams, finals):
        events, closing = [], []
        for s, final in zip(streams, finals):
            s.inbox_samples = 0
            if final:
                ev = {"text": "", "final": True}
                closing.append({"event": ev, "stream": s.name})
                events.append([{"text": "부분", "final": False}, ev])
            else:
                events.append([{"text": f"{s.name} 부분", "final": False}])
        return events, closing

    def finalize(self, closing, events):
        time.sleep(FINAL_PASS_S)
        for c in closing:
            c["event"]["text"] = f"{c['stream']} 끝"
            self.finalized.append(c["stream"])


@pytest.mark.slow
def test_partials_of_other_streams_do_not_wait_for_a_final():
    streaming = SlowFinals()
    worker = InferenceWorker(streaming, Metrics(), max_batch=8, max_wait_ms=1.0)
    a, b = SimpleNamespace(name="a", inbox_samples=1600), SimpleNamespace(name="b", inbox_samples=1600)
    times = {}

    async def main():
        worker.start()
        t0 = time.perf_counter()

        async def run(stream, final, key):
            events = await worker.decode(stream, final)
            times[key] = (time.perf_counter() - t0, events)

        final_a = asyncio.create_task(run(a, True, "a_final"))
        await asyncio.sleep(0.05)  # a's step is done, its second pass runs on the final thread
        partials_b = []
        for k in range(5):  # b keeps streaming meanwhile
            b.inbox_samples = 1600
            await run(b, False, f"b{k}")
            partials_b.append(times[f"b{k}"][0])
        await final_a
        await worker.stop()
        return partials_b

    partials_b = asyncio.run(main())
    final_at, final_events = times["a_final"]
    assert final_at >= FINAL_PASS_S  # the final waited for its own second pass ...
    assert max(partials_b) < 0.5 * FINAL_PASS_S  # ... and b's five steps did not wait for it
    assert [e["text"] for e in final_events] == ["부분", "a 끝"]  # the partial, then the filled-in final
    assert streaming.finalized == ["a"]
    snapshot = worker.load.snapshot()
    assert snapshot["batches"] >= 7  # six steps and one second pass are counted as compute (admission)


class QuickFinals(SlowFinals):
    """Records how many utterances each call of the second pass got; 0.1 s per call."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def finalize(self, closing, events):
        self.calls.append(len(closing))
        time.sleep(0.1)
        for c in closing:
            c["event"]["text"] = f"{c['stream']} 끝"
            self.finalized.append(c["stream"])


def test_a_burst_of_finals_returns_group_by_group():
    # five streams end in the same step: their second pass runs two connections at a time, and the first two
    # get their finals while the others are still being finalized; every final is filled in, none twice
    streaming = QuickFinals()
    worker = InferenceWorker(streaming, Metrics(), max_batch=8, max_wait_ms=20.0)
    worker.FINAL_GROUP = 2
    streams = [SimpleNamespace(name=f"s{k}", inbox_samples=1600) for k in range(5)]
    done = {}

    async def main():
        worker.start()
        t0 = time.perf_counter()

        async def run(stream):
            events = await worker.decode(stream, True)
            done[stream.name] = (time.perf_counter() - t0, events)

        await asyncio.gather(*(run(s) for s in streams))
        await worker.stop()

    asyncio.run(main())
    assert streaming.calls == [2, 2, 1]
    assert sorted(streaming.finalized) == [s.name for s in streams]
    for s in streams:
        assert [e["text"] for e in done[s.name][1]] == ["부분", f"{s.name} 끝"]
    at = sorted(t for t, _ in done.values())
    assert at[1] < at[2] - 0.05 and at[3] < at[4] - 0.05  # three groups, about 0.1 s apart


class LongUtterances(QuickFinals):
    """Each final is a full pass over 10 s of audio; forward batches of 32 s."""

    recognizer = SimpleNamespace(sample_rate=16000, batch_seconds=32.0)

    def step(self, streams, finals):
        events, closing = super().step(streams, finals)
        for c in closing:
            c["audio"] = np.zeros(10 * 16000, dtype=np.float32)
        return events, closing


def test_a_burst_is_finalized_in_groups_of_one_forward_batch():
    # seven 10 s utterances end together: groups of three fill a 32 s batch, the last one is alone
    streaming = LongUtterances()
    worker = InferenceWorker(streaming, Metrics(), max_batch=8, max_wait_ms=20.0)
    streams = [SimpleNamespace(name=f"s{k}", inbox_samples=1600) for k in range(7)]

    async def main():
        worker.start()
        await asyncio.gather(*(worker.decode(s, True) for s in streams))
        await worker.stop()

    asyncio.run(main())
    assert streaming.calls == [3, 3, 1]
    assert sorted(streaming.finalized) == [s.name for s in streams]


class BrokenSecondGroup(QuickFinals):
    """The second call of the second pass fails (a bug, or a model error on one utterance)."""

    def finalize(self, closing, events):
        if len(self.calls) == 1:
            self.calls.append(len(closing))
            raise RuntimeError("second pass failed")
        super().finalize(closing, events)


@pytest.mark.parametrize("where", ["second_pass", "grouping"])
def test_a_failing_finalization_reaches_every_waiting_connection(where):
    # nothing may leave a connection waiting for its final forever: the group that failed (or, when the grouping
    # itself fails, every connection of the burst) gets the error; the other groups get their finals
    streaming = BrokenSecondGroup()
    worker = InferenceWorker(streaming, Metrics(), max_batch=8, max_wait_ms=20.0)
    worker.FINAL_GROUP = 2
    if where == "grouping":
        worker.final_groups = lambda closing, waiting: 1 / 0
    streams = [SimpleNamespace(name=f"s{k}", inbox_samples=1600) for k in range(5)]

    async def main():
        worker.start()
        results = await asyncio.wait_for(
            asyncio.gather(*(worker.decode(s, True) for s in streams), return_exceptions=True), timeout=5)
        await worker.stop()
        return results

    results = asyncio.run(main())
    errors = [type(r).__name__ if isinstance(r, Exception) else None for r in results]
    if where == "grouping":
        assert errors == ["ZeroDivisionError"] * 5
    else:
        assert errors == [None, None, "RuntimeError", "RuntimeError", None]
        assert [e["text"] for e in results[0]] == ["부분", "s0 끝"]
        assert [e["text"] for e in results[4]] == ["부분", "s4 끝"]
