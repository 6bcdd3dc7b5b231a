"""The one claim-then-send protocol (shop/claims.py) on SQLite, PostgreSQL and MariaDB: one claim
per key, a second refused, a stale attempt in doubt after the lease and taken over once, finish."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from ordersync.shop import claims
from ordersync.shop import schema as t
from ordersync.shop.db import utcnow

pytestmark = pytest.mark.services

KIND = claims.ClaimTable(t.acceptances, done="sent", done_at="answered_at")
KEY = {"marketplace": "cdiscount", "country": "FR", "marketplace_order_id": "CL1"}
VALUES = {"decision": "accept", "reason": None}
LEASE = timedelta(minutes=10)


def _row(store):
    with store.engine.connect() as conn:
        return conn.execute(select(t.acceptances).where(KIND.where(KEY))).mappings().one()


def _in_doubt(store, lease=LEASE) -> bool:
    with store.engine.connect() as conn:
        query = select(t.acceptances.c.id).where(KIND.where(KEY), claims.in_doubt(t.acceptances, utcnow(), lease))
        return conn.execute(query).first() is not None


def test_claim_once_refuse_second_in_doubt_after_lease_then_finish(store):
    first = claims.claim(store.engine, KIND, KEY, VALUES, lease=LEASE)
    assert first is not None and not first.in_doubt
    assert claims.claim(store.engine, KIND, KEY, VALUES, lease=LEASE) is None  # held, within the lease
    assert not _in_doubt(store)
    assert _in_doubt(store, lease=timedelta(seconds=-60))  # a claim older than the lease is in doubt

    claims.finish(store.engine, KIND, KEY, first.token, claims.SENDING)  # outcome unknown: aged
    assert _in_doubt(store) and _row(store)["claimed_at"] == claims.IN_DOUBT_SINCE
    retry = claims.claim(store.engine, KIND, KEY, VALUES, lease=LEASE)
    assert retry is not None and retry.in_doubt and retry.token != first.token
    assert claims.claim(store.engine, KIND, KEY, VALUES, lease=LEASE) is None  # only one takes over

    claims.finish(store.engine, KIND, KEY, first.token, "rejected", "too late")  # lost its claim: no effect
    claims.finish(store.engine, KIND, KEY, retry.token, "sent")
    row = _row(store)
    assert row["state"] == "sent" and row["attempts"] == 2 and row["answered_at"] is not None
    assert row["message"] is None and row["claimed_by"] == retry.token
    assert claims.claim(store.engine, KIND, KEY, VALUES, lease=LEASE) is None  # done: never again


def test_without_lease_only_the_stale_token_seen_takes_over(store):
    first = claims.claim(store.engine, KIND, KEY, VALUES)
    claims.finish(store.engine, KIND, KEY, first.token, claims.SENDING)
    assert claims.claim(store.engine, KIND, KEY, VALUES) is None  # no lease: a listed stale token is needed
    assert claims.claim(store.engine, KIND, KEY, VALUES, stale="not-the-token") is None
    taken = claims.claim(store.engine, KIND, KEY, VALUES, stale=first.token)
    assert taken is not None and taken.in_doubt
    assert claims.claim(store.engine, KIND, KEY, VALUES, stale=first.token) is None  # compare-and-set: once
    claims.finish(store.engine, KIND, KEY, taken.token, "rejected", "refused")
    row = _row(store)
    assert row["state"] == "rejected" and row["message"] == "refused" and row["answered_at"] is None
