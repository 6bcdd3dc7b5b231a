"""Long-running Airflow processes for tests that start a real deployment (tests/browser, tests/celery).

Each process runs in its own process group with its log in a file; ``stop()`` ends them all
(SIGTERM to every group, then SIGKILL what is left, children included).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any


def bearer_login(http: Any, base: str, username: str, password: str) -> bool:
    """Log ``http`` (a requests session) in to Airflow's API server: POST /auth/token, then its
    JWT on every request. False while the server is not up or refuses."""
    import requests

    try:
        r = http.post(f"{base}/auth/token", json={"username": username, "password": password}, timeout=5)
    except requests.RequestException:
        return False
    if r.status_code != 201:
        return False
    http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Processes:
    def __init__(self, logs: Path, env: dict[str, str], cwd: Path):
        self.logs, self.env, self.cwd, self.procs = logs, env, cwd, {}

    def start(self, name: str, *cmd: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        return "\n".join((self.logs / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])

    def wait(self, what: str, check, timeout: float, every: float = 1):
        """Poll ``check`` until it returns something true; fail with every log's tail on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {name}.log\n{self.tail(name, 15)}" for name in self.procs)
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")
            time.sleep(every)

    def stop(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if proc.poll() is None:
                proc.wait(timeout=10)
