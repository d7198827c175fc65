"""The server harness of the API and reliability suites (:mod:`helpers.server`) keeps its word.

* A server that cannot start fails the test with the reason from its own log, quickly.
* A test process killed with SIGKILL takes its servers with it (``PR_SET_PDEATHSIG``):
  supervisor and workers are gone and the port is free — no orphans loading the machine.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers.server import ServerDidNotStart, ServerProcess

TESTS = Path(__file__).resolve().parent

_TEST_PROCESS = """
import sys, time
from pathlib import Path
from helpers.server import ServerProcess

server = ServerProcess(Path(sys.argv[1]), workers=2)
server.start()
print(server.pid, server.url, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    """``pid`` exists and is not a zombie (a reaped-later child still has an entry)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_a_server_that_cannot_start_fails_with_its_log_tail(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", env={"SEALSVC_BASE_URL": "ftp://seal.example"})
    started = time.monotonic()
    with pytest.raises(ServerDidNotStart) as failed:
        server.start(timeout=60)
    assert time.monotonic() - started < 30  # noticed when it exited, not at the timeout
    message = str(failed.value)
    assert "sealctl serve exited with 1" in message
    assert "SEALSVC_BASE_URL" in message and "ftp://seal.example" in message


def test_servers_die_with_a_test_process_killed_by_sigkill(tmp_path: Path) -> None:
    test_process = subprocess.Popen(
        [sys.executable, "-c", _TEST_PROCESS, str(tmp_path / "data")],
        cwd=TESTS,
        env={**os.environ, "PYTHONPATH": str(TESTS)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert test_process.stdout is not None
        pid_text, url = test_process.stdout.readline().split()
        server_pid = int(pid_text)
        workers = _children(server_pid)
        assert len(workers) >= 2, workers  # uvicorn's two workers (and its resource tracker)
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    finally:
        test_process.send_signal(signal.SIGKILL)
        test_process.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(map(_alive, [server_pid, *workers])):
        time.sleep(0.1)
    assert [pid for pid in [server_pid, *workers] if _alive(pid)] == []
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2)
