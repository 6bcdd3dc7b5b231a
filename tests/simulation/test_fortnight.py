"""The fortnight simulation at a reduced size (CI): nothing lost, nothing twice, report agrees.

``make simulate`` runs the full 14 days x 200 orders a day; this runs 2 days x 30 with the same
faults (429 storm, 5xx burst, outage, killed import, backfill).
"""

from __future__ import annotations

import pytest

from tests.simulation.fortnight import ZERO, Simulation

pytestmark = pytest.mark.simulation


def test_two_days_lose_nothing_and_do_nothing_twice(airflow_db, tmp_path):
    figures = Simulation(tmp_path, days=2, orders_per_day=30, seed=11, log=lambda *_: None).run()
    print(figures)
    assert {k: figures[k] for k in ZERO} == dict.fromkeys(ZERO, 0), figures
    assert figures["orders_expected"] > 50 and figures["orders_in_shop"] >= figures["orders_expected"]
    assert figures["confirmations"] > 0  # the warehouse shipped and fulfillment confirmed
    assert figures["import_killed_mid_way"] and figures["faults_injected"] >= 8  # 429 storm + 5xx burst
    assert figures["failed_runs"] >= 6  # the outage's runs failed, and nothing was lost anyway
    assert figures["report_unexplained"] == 0 and figures["report_duplicated"] == 0
