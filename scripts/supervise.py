"""Run Airflow's components for ``make airflow``, restarting any that dies.

``airflow standalone`` never restarts a component: once its scheduler died (an
``ObjectDeletedError`` on a DAG run deleted under it, right after a backfill on SQLite) the UI
kept answering while nothing was scheduled any more. Here each component is a child process of
its own; one that exits is started again after a pause (and said so on the console and in
``$AIRFLOW_HOME/restarts.log``), with a growing pause if it keeps dying. Ctrl-C or SIGTERM stops
them all.

    python scripts/supervise.py NAME='command args' [NAME='command args' ...]
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

PAUSE = float(os.environ.get("ORDERSYNC_RESTART_PAUSE", "5"))
STABLE = 60.0  # a component up this long has its pause reset


def say(message: str) -> None:
    line = f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} {message}"
    print(line, flush=True)
    home = os.environ.get("AIRFLOW_HOME")
    if home:
        with open(Path(home) / "restarts.log", "a") as log:
            log.write(line + "\n")


class Component:
    def __init__(self, name: str, command: list[str]):
        self.name, self.command = name, command
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.pause = PAUSE
        self.due = 0.0  # when a dead component may start again
        self.restarts = 0

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, start_new_session=True)  # its own group: stopped whole
        self.started = time.monotonic()

    def check(self, now: float) -> None:
        if self.process is None:
            if now >= self.due:
                self.restarts += 1
                say(f"restarting {self.name} (restart {self.restarts})")
                self.start()
            return
        code = self.process.poll()
        if code is None:
            if now - self.started > STABLE:
                self.pause = PAUSE
            return
        say(f"{self.name} exited with {code}; restarting in {self.pause:.0f} s")
        try:  # what it started (a scheduler's executor workers) must not outlive it
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process, self.due = None, now + self.pause
        self.pause = min(self.pause * 2, 300.0)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)


def main(argv: list[str]) -> int:
    components = []
    for spec in argv:
        name, _, command = spec.partition("=")
        components.append(Component(name, shlex.split(command)))
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    for component in components:
        component.start()
    try:
        while not stopping:
            for component in components:
                component.check(time.monotonic())
            time.sleep(0.5)
    finally:
        for component in components:
            component.stop()
        deadline = time.monotonic() + 30
        for component in components:
            if component.process is not None:
                try:
                    component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(component.process.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
