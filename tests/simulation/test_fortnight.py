"""The fortnight simulation at a reduced size (CI): nothing lost, nothing twice, report agrees.

``make simulate`` runs the full 14 days x 200 orders a day; this runs 2 days x 30 for six Amazon
EU countries of one seller (IT, FR, DE, ES, NL, BE: one region-wide listing), Cdiscount and Lengow amazon_fr with the same faults (outage, 429 storm, 5xx burst, lost
Lengow answers, killed import, concurrent backfill).
"""

from __future__ import annotations

import pytest

from tests.simulation.fortnight import DAG_IDS, ZERO, Simulation

pytestmark = pytest.mark.simulation


def test_two_days_lose_nothing_and_do_nothing_twice(airflow_db, tmp_path):
    sim = Simulation(tmp_path, days=2, orders_per_day=30, seed=11, log=lambda *_: None)
    figures = sim.run()
    print(figures)
    assert {k: figures[k] for k in ZERO} == dict.fromkeys(ZERO, 0), (figures, sim.lost)
    assert figures["orders_expected"] > 100 and figures["orders_in_shop"] >= figures["orders_expected"]
    assert figures["cdiscount_in_shop"] > 20 and figures["acceptances"] > 20  # the accept-first channel took part
    # Lengow took part: answers, per-line ship actions the marketplace acknowledged, a
    # marketplace-delivered order imported as a record
    assert figures["lengow_in_shop"] > 20 and figures["lengow_answers"] > 20
    assert figures["lengow_ship_actions"] > 0 and figures["lengow_ship_actions_without_line"] == 0
    assert figures["lengow_shipments_acknowledged"] > 0 and figures["lengow_marketplace_delivered_in_shop"] > 0
    assert figures["lengow_lost_answers"] == 4  # accept and ship answers lost, nothing sent twice
    assert figures["confirmations"] > 0  # the warehouse shipped and fulfillment confirmed
    assert figures["import_killed_mid_way"] and figures["faults_injected"] >= 8  # 429 storm + 5xx burst + outage
    # the outage's 2 x 8 runs ran and failed, every channel was down, and nothing was lost anyway
    assert figures["failed_runs"] >= 10 and figures["cdiscount_outage_answers"] > 0 and figures["lengow_outage_answers"] > 0
    # the backfill of a whole day (6 x 8 runs) ran in another process next to scheduled runs
    assert figures["backfill_runs"] == 6 * len(DAG_IDS) and figures["runs_during_backfill"] > 0
    assert figures["report_unexplained"] == 0 and figures["report_duplicated"] == 0
