"""DAG file parse time with 10 and 200 config entries, against a one-task DAG file, and what it imports.

Each parse runs in a fresh interpreter (as the dag-processor parses a file in a fresh process):
``airflow.sdk`` and the timetable module are imported first, since any DAG file pays for them, then
the DAG file is run once and timed. The figure is the median of ``REPEAT`` interpreters, given as a
ratio to the trivial DAG file measured the same way in the same run. The 200 entries are amazon
entries (the only marketplace today): 18 countries x seller accounts, see tests/helpers/configs.py.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DAG_FILE = REPO / "dags" / "ordersync_dags.py"
REPEAT = 5
HEAVY = ("pandas", "sqlalchemy", "requests", "httpx", "urllib3", "aiohttp", "ordersync.shop", "ordersync.channels",
         "ordersync.hooks", "ordersync.steps")

TRIVIAL_DAG = '''"""A one-task DAG: the baseline parse."""
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("trivial", schedule=None):
    EmptyOperator(task_id="noop")
'''

_PROBE = textwrap.dedent(
    """
    import json, runpy, sys, time
    import airflow.sdk, airflow.timetables.interval  # what any DAG file pays anyway
    before = set(sys.modules)
    started = time.perf_counter()
    namespace = runpy.run_path(sys.argv[1])
    seconds = time.perf_counter() - started
    dags = sum(1 for v in namespace.values() if type(v).__name__ == "DAG")
    print(json.dumps({"seconds": seconds, "dags": dags, "modules": sorted(set(sys.modules) - before)}))
    """
)


def _parse(path: Path, config: Path | None, task_of: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    env.pop("_AIRFLOW_PARSING_CONTEXT_DAG_ID", None)
    if task_of is not None:  # what Airflow sets in a task process: the DAG it runs
        env["_AIRFLOW_PARSING_CONTEXT_DAG_ID"] = task_of
    env.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="ordersync-bench-airflow-"))
    if config is not None:
        env["ORDERSYNC_CONFIG"] = str(config)
    runs = []
    for _ in range(REPEAT):
        out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], env=env, capture_output=True, text=True,
                             check=True, timeout=120)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"seconds": statistics.median(r["seconds"] for r in runs), "dags": runs[0]["dags"],
            "modules": runs[0]["modules"]}


def main() -> list[str]:
    sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
    from tests.helpers.configs import write_config

    with tempfile.TemporaryDirectory(prefix="ordersync-bench-parse-") as tmp:
        tmp_path = Path(tmp)
        trivial = tmp_path / "trivial_dag.py"
        trivial.write_text(TRIVIAL_DAG)
        base = _parse(trivial, None)
        configs = {n: write_config(tmp_path / f"entries_{n}.yaml", n) for n in (10, 200)}
        results = {n: _parse(DAG_FILE, path) for n, path in configs.items()}
        # a task process of the 200-entry config: the parsing context names its DAG
        from ordersync.config import load_config

        one = load_config(configs[200]).enabled[0].dag_id
        task = _parse(DAG_FILE, configs[200], task_of=one)

    lines = [f"baseline: one-task DAG file parses in {base['seconds'] * 1000:.0f} ms on this machine "
             f"(median of {REPEAT} fresh interpreters)"]
    for n, r in results.items():
        lines.append(f"{n:>3} entries: {r['dags']} DAGs, {r['seconds'] / base['seconds']:.1f}x baseline "
                     f"({r['seconds'] * 1000:.0f} ms, {r['seconds'] / max(r['dags'], 1) * 1000:.2f} ms per DAG)")
    lines.append(f"a task's parse with 200 entries (parsing context): {task['dags']} DAG, "
                 f"{task['seconds'] / base['seconds']:.1f}x baseline ({task['seconds'] * 1000:.0f} ms) instead of "
                 f"{results[200]['seconds'] * 1000:.0f} ms: {results[200]['seconds'] / task['seconds']:.1f}x less per task start")
    results_dir = REPO / "bench" / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    (results_dir / "parse.json").write_text(json.dumps({
        "baseline_ms": base["seconds"] * 1000,
        "entries_10_ms": results[10]["seconds"] * 1000,
        "entries_200_ms": results[200]["seconds"] * 1000,
        "task_parse_200_ms": task["seconds"] * 1000,
    }, indent=2))
    extra = sorted(set(results[200]["modules"]) - set(base["modules"]))
    packages = sorted({m.split(".")[0] for m in extra})
    heavy = sorted(m for m in extra if m.startswith(HEAVY))
    lines.append(f"modules imported by the DAG file beyond the baseline: {len(extra)} in packages {', '.join(packages)}")
    lines.append(f"heavy modules at parse time: {', '.join(heavy) if heavy else 'none'} "
                 f"(checked: pandas, SQLAlchemy, HTTP clients, ordersync store/channels/hooks/steps)")
    return lines
