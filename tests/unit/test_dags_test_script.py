"""scripts/dags-test.sh: the demo's `airflow dags test --use-executor`, past Airflow's shutdown hang.

A fake ``airflow`` on PATH plays the executor: it logs its shutdown, then waits on a child titled
like an idle LocalExecutor worker that never gets its stop message (apache/airflow#45683).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

HANGING = """#!/usr/bin/env bash
echo "DagRun Finished"; echo "Shutting down LocalExecutor; waiting for running tasks to finish."
bash -c 'echo $$ > "$WORKER_PID"; exec -a "airflow worker -- LocalExecutor: <idle>" sleep 600' &
wait $!
exit 3
"""

PROMPT = """#!/usr/bin/env bash
echo "args: $*"; echo "Shutting down LocalExecutor; waiting for running tasks to finish."
exit 0
"""


def _run(tmp_path: Path, fake: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "airflow").write_text(fake)
    (bin_dir / "airflow").chmod(0o755)
    script = (f'set -euo pipefail; source "{REPO}/scripts/dags-test.sh"; '
              f'if dags_test my_dag "{tmp_path}/run.log" -c conf; then echo "status 0"; else echo "status $?"; fi')
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DAGS_TEST_GRACE": "1",
           "WORKER_PID": str(tmp_path / "worker.pid")}
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)


def test_a_worker_left_waiting_after_the_run_is_stopped_and_said(tmp_path):
    try:
        done = _run(tmp_path, HANGING)
        assert "my_dag has ended but Airflow's LocalExecutor did not stop its idle workers" in done.stdout
        assert "status 3" in done.stdout  # the command's own exit status, not the stop's
        worker = int((tmp_path / "worker.pid").read_text())
        assert not Path(f"/proc/{worker}").exists()  # stopped, and the command went on to its exit
        assert "DagRun Finished" in (tmp_path / "run.log").read_text()
    finally:  # a failing run leaves no fake worker behind
        pid_file = tmp_path / "worker.pid"
        if pid_file.exists() and Path(f"/proc/{pid_file.read_text().strip()}").exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_an_executor_that_stops_is_left_alone(tmp_path):
    done = _run(tmp_path, PROMPT)
    assert "did not stop" not in done.stdout
    assert "status 0" in done.stdout
    assert "args: dags test --use-executor my_dag -c conf" in (tmp_path / "run.log").read_text()
