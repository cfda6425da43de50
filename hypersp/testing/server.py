"""A real ``hypersp-serve`` process on a free port, for tests and benchmarks (Sanic in single-process mode,
as the command runs it)::

    from hypersp.testing import ServerProcess, make_tiny_checkpoint
    with ServerProcess(make_tiny_checkpoint(tmp_path / "tiny.pt"), "online_resp") as srv:
        requests.get(srv.url + "/healthz")
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``with ServerProcess(ckpt, "online_resp", ["--no-ssl"]) as srv: srv.url`` -> http://127.0.0.1:PORT"""

    def __init__(self, checkpoint: str | Path, app: str, extra: Optional[List[str]] = None, ssl: bool = False,
                 threads: int = 1, startup_timeout: float = 90.0):
        self.port = free_port()
        self.ssl = ssl
        self._dir = tempfile.mkdtemp(prefix="hypersp-serve-test-")
        self.port_file = os.path.join(self._dir, "port")
        self.log_path = os.path.join(self._dir, "server.log")
        self.cmd = [sys.executable, "-m", "hypersp_cli.serve", "--app", app, "--checkpoint", str(checkpoint),
                    "--port", str(self.port), "--port-file", self.port_file, "--threads", str(threads),
                    *([] if ssl else ["--no-ssl"]), *(extra or [])]
        self.startup_timeout = startup_timeout
        self.proc = None

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"{'wss' if self.ssl else 'ws'}://127.0.0.1:{self.port}"

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace") if os.path.exists(self.log_path) else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "ServerProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "w")
        # A session of its own: a server that gives up (Sanic's manager SIGKILLs its whole process group when a
        # worker starts too slowly) must not take the test runner with it.
        self.proc = subprocess.Popen(self.cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
        deadline = time.time() + self.startup_timeout
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None or time.time() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"server did not start ({' '.join(self.cmd)}):\n{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
