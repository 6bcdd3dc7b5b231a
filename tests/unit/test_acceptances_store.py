"""Acceptance claims on SQLite, PostgreSQL and MariaDB: one answer per order, stale attempts
taken over once and flagged in doubt, Lengow acknowledgements settled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ordersync.shop import acceptances

pytestmark = pytest.mark.services


def test_one_claim_per_order_and_stale_attempts_are_taken_over_in_doubt(store):
    first = acceptances.claim(store, "cdiscount", "FR", "CD1", "accept", "every line in stock")
    assert first is not None and not first.in_doubt
    assert acceptances.claim(store, "cdiscount", "FR", "CD1", "refuse", "manual") is None  # being sent
    acceptances.finish(store, "cdiscount", "FR", "CD1", first.token, "sending")  # outcome unknown
    retry = acceptances.claim(store, "cdiscount", "FR", "CD1", "accept", None, lease=timedelta(minutes=10))
    assert retry is not None and retry.in_doubt
    assert acceptances.claim(store, "cdiscount", "FR", "CD1", "accept", None) is None  # only one takes over
    acceptances.finish(store, "cdiscount", "FR", "CD1", retry.token, "sent")
    assert acceptances.claim(store, "cdiscount", "FR", "CD1", "accept", None) is None  # answered: never again
    row = acceptances.answers(store, "cdiscount", "FR", ["CD1", "CD2"])
    assert set(row) == {"CD1"} and row["CD1"]["state"] == "sent" and row["CD1"]["attempts"] == 2
    assert row["CD1"]["decision"] == "accept" and row["CD1"]["answered_at"] is not None
    # the same order id on another channel is another order
    assert acceptances.claim(store, "lengow", "FR", "CD1", "accept", None) is not None
