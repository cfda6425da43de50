"""hypersp-serve --workers 2: two processes, each with its own model, answer on one port and stop cleanly."""
import json
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("sanic")
from hypersp.testing import ServerProcess  # noqa: E402

pytestmark = pytest.mark.slow  # server processes


def test_two_workers_share_the_port():
    pids = set()
    body = json.dumps({"uid": "u", "data": (np.sin(np.arange(8000) / 5) * 8000).astype(int).tolist()}).encode()
    with ServerProcess("demo_ko_16k", "minutes", ["--workers", "2"], startup_timeout=180) as srv:
        from concurrent.futures import ThreadPoolExecutor

        def health(_):
            with urllib.request.urlopen(srv.url + "/healthz", timeout=30) as r:
                return json.loads(r.read())["pid"]

        deadline = time.time() + 90  # the second worker may still be loading its model
        with ThreadPoolExecutor(8) as pool:
            while len(pids) < 2 and time.time() < deadline:
                pids.update(pool.map(health, range(16)))
                time.sleep(0.2)
        req = urllib.request.Request(srv.url + "/recognize", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            assert json.loads(r.read())["final"] is True
        assert srv.alive()
    assert len(pids) == 2, pids
    assert not srv.alive()
