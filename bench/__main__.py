"""``make bench``: run every ``bench/bench_*.py`` (or the ones named) and print their figures.

Each benchmark module has ``main() -> list[str]`` returning printable lines. Figures are
printed as ratios against a baseline measured in the same run, so they compare across machines;
nothing here is a pass/fail test.
"""

from __future__ import annotations

import importlib
import logging
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ordersync").setLevel(logging.WARNING)  # the steps' per-run counts would drown the figures
    names = argv or sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        started = time.perf_counter()
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
        for line in module.main():
            print(f"   {line}", flush=True)
        print(f"   ({time.perf_counter() - started:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
