"""The fortnight simulation at a reduced size (CI): nothing lost, nothing twice, report agrees.

``make simulate`` runs the full 14 days x 200 orders a day; this runs 2 days x 30 for Amazon IT,
FR, DE and Cdiscount with the same faults (outage, 429 storm, 5xx burst, killed import,
concurrent backfill).
"""

from __future__ import annotations

import pytest

from tests.simulation.fortnight import ZERO, Simulation

pytestmark = pytest.mark.simulation


def test_two_days_lose_nothing_and_do_nothing_twice(airflow_db, tmp_path):
    sim = Simulation(tmp_path, days=2, orders_per_day=30, seed=11, log=lambda *_: None)
    figures = sim.run()
    print(figures)
    assert {k: figures[k] for k in ZERO} == dict.fromkeys(ZERO, 0), (figures, sim.lost)
    assert figures["orders_expected"] > 100 and figures["orders_in_shop"] >= figures["orders_expected"]
    assert figures["cdiscount_in_shop"] > 20 and figures["acceptances"] > 20  # the accept-first channel took part
    assert figures["confirmations"] > 0  # the warehouse shipped and fulfillment confirmed
    assert figures["import_killed_mid_way"] and figures["faults_injected"] >= 8  # 429 storm + 5xx burst + outage
    # the outage's 2 x 4 runs ran and failed, every channel was down, and nothing was lost anyway
    assert figures["failed_runs"] >= 8 and figures["cdiscount_outage_answers"] > 0
    # the backfill of a whole day (6 x 4 runs) ran in another process next to scheduled runs
    assert figures["backfill_runs"] == 24 and figures["runs_during_backfill"] > 0
    assert figures["report_unexplained"] == 0 and figures["report_duplicated"] == 0
