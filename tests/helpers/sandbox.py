"""Run the sandbox marketplace as a real subprocess for tests.

    with start_sandbox(seed=7, countries="IT,FR") as sandbox:
        requests.get(sandbox.url + "/orders/2026-01-01/orders", ...)
        sandbox.get_admin("/requests")

Keyword options become CLI flags (``orders_per_day=5`` -> ``--orders-per-day 5``; lists are
comma-joined; ``True`` is a bare flag). Without a port the server binds port 0 and reports the
port it got, so parallel test runs never race for a port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
PLUGINS = REPO / "plugins"
_READY = re.compile(r"sandbox listening on (http://\S+?):(\d+)\s*$")


class SandboxProcess:
    """A running sandbox: ``url``, ``port``, admin helpers, ``stop()``; a context manager too."""

    def __init__(self, process: subprocess.Popen, url: str, port: int, output: list[str]):
        self.process, self.url, self.port, self._output = process, url, port, output
        self.http = requests.Session()

    @property
    def output(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return "".join(self._output)

    def get_admin(self, path: str, **params: Any) -> Any:
        response = self.http.get(self._admin_url(path), params=params or None, timeout=10)
        response.raise_for_status()
        return response.json()

    def post_admin(self, path: str, json: Any = None) -> Any:
        response = self.http.post(self._admin_url(path), json=json if json is not None else {}, timeout=10)
        response.raise_for_status()
        return response.json()

    def _admin_url(self, path: str) -> str:
        path = path if path.startswith("/") else "/" + path
        return self.url + (path if path.startswith("/_admin") else "/_admin" + path)

    def stop(self, timeout: float = 10) -> int | None:
        """Terminate (SIGTERM), wait, kill if it hangs; returns the exit status."""
        self.http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        return self.process.returncode

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _flags(options: dict[str, Any]) -> list[str]:
    args = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, str(value)]
    return args


def start_sandbox(port: int | None = None, startup_timeout: float = 20, **cli_options: Any) -> SandboxProcess:
    """Start ``python -m ordersync.sandbox`` and wait until it answers (or raise with its output)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PLUGINS), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    cmd = [sys.executable, "-m", "ordersync.sandbox", "--host", "127.0.0.1", "--port", str(port or 0),
           *_flags(cli_options)]
    process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, encoding="utf-8", errors="replace")
    output: list[str] = []
    found: dict[str, str] = {}
    ready = threading.Event()

    def pump() -> None:  # keep reading so the pipe never fills up and blocks the server
        for line in process.stdout:
            output.append(line)
            match = _READY.search(line)
            if match and not ready.is_set():
                found.update(url=match.group(1) + ":" + match.group(2), port=match.group(2))
                ready.set()
        ready.set()  # EOF: the process is gone

    threading.Thread(target=pump, name="sandbox-output", daemon=True).start()
    deadline = time.monotonic() + startup_timeout
    ready.wait(startup_timeout)
    if not found:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        raise RuntimeError(f"sandbox did not start (exit {process.returncode}): {' '.join(cmd)}\n{''.join(output)}")
    sandbox = SandboxProcess(process, found["url"], int(found["port"]), output)
    while True:  # the line is printed once the socket listens; make sure HTTP really answers
        try:
            if sandbox.http.get(sandbox.url + "/_admin/health", timeout=2).ok:
                return sandbox
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            sandbox.stop()
            raise RuntimeError(f"sandbox is not answering: {' '.join(cmd)}\n{sandbox.output}")
        time.sleep(0.1)


def sandbox_connections(url: str, rate_scale: float = 100) -> dict[str, dict]:
    """The demo's marketplace connections as ``AIRFLOW_CONN_*`` name -> fields (tests set them
    as environment variables; the demo writes them to Airflow's database)."""
    from ordersync.demo import sandbox_connections as conns

    return {f"AIRFLOW_CONN_{conn_id.upper()}": fields for conn_id, fields in conns(url, rate_scale=rate_scale).items()}
