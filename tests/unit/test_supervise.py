"""``make airflow``'s supervisor: a component that dies is started again, Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.helpers.sandbox import REPO


def test_a_dead_component_is_restarted_and_sigterm_stops_every_one(tmp_path):
    starts, pid_file = tmp_path / "starts", tmp_path / "sleeper.pid"
    # it leaves a child behind when it dies, as a killed scheduler leaves its executor's workers
    orphan = tmp_path / "orphan.pid"
    crashing = (f"crashing={sys.executable} -c \"import subprocess, sys; open('{starts}', 'a').write('x'); "
                f"p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
                f"open('{orphan}', 'w').write(str(p.pid)); raise SystemExit(3)\"")
    steady = f"steady={sys.executable} -c \"import os, time; open('{pid_file}', 'w').write(str(os.getpid())); time.sleep(600)\""
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "ORDERSYNC_RESTART_PAUSE": "0.2"}
    supervisor = subprocess.Popen([sys.executable, str(REPO / "scripts" / "supervise.py"), crashing, steady],
                                  env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not starts.exists() or len(starts.read_text()) < 3):
            time.sleep(0.2)
        assert len(starts.read_text()) >= 3  # died, restarted, died again...
        assert "crashing exited with 3" in (tmp_path / "restarts.log").read_text()
        sleeper = int(pid_file.read_text())
        left = int(orphan.read_text())
        deadline = time.monotonic() + 10
        while alive(left) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not alive(left), "a dead component's child was left running"
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    time.sleep(0.5)
    assert not alive(sleeper), "the steady component outlived its supervisor"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"  # a zombie is dead, only not yet reaped
    except FileNotFoundError:
        return False
