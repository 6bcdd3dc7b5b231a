"""Claim-then-send: the one protocol that keeps a marketplace request from being sent twice.

Used for shipment confirmations (``shipment_confirmations``, unique per order + package) and
acceptance answers (``acceptances``, unique per order). Before a request is sent, its row is
claimed: inserted with a fresh token under the table's unique key (insert-or-ignore), so of
several runs exactly one reads its own token back. The sender then finishes the row with the
outcome: the table's done state, ``rejected`` with the marketplace's message, or ``sending`` when
the outcome is unknown. A ``sending`` row claimed longer than a lease ago is *in doubt*: a later
run takes it over by compare-and-set on the stale token (one run wins) and must ask the
marketplace before sending again.

Each table keeps its own key, columns and done state (:class:`ClaimTable`); the claim columns
(``state``, ``claimed_by``, ``claimed_at``, ``attempts``, ``message``) are the same in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, and_, select, update

from ordersync.shop.db import insert_ignore, new_token, utcnow

SENDING = "sending"
LEASE = timedelta(minutes=10)
# claimed_at of an attempt finished as ``sending``: older than any lease, so the next run verifies
IN_DOUBT_SINCE = datetime(2000, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class ClaimTable:
    """A table of claims: which state ends a send, and the column stamped when it is reached."""

    table: Table
    done: str  # "confirmed" (shipments), "sent" (acceptances)
    done_at: str  # "confirmed_at", "answered_at"

    def where(self, key: Mapping[str, Any]) -> ColumnElement[bool]:
        """The row of ``key``: the table's unique key, column -> value."""
        return and_(*(self.table.c[name] == value for name, value in key.items()))


@dataclass(frozen=True)
class Claim:
    token: str
    in_doubt: bool  # an earlier attempt may have reached the marketplace


def in_doubt(table: Table, now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Rows whose attempt was claimed more than ``lease`` ago and never finished."""
    return and_(table.c.state == SENDING, table.c.claimed_at < now - lease)


def claim(
    engine: Engine,
    kind: ClaimTable,
    key: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    lease: timedelta | None = None,
    stale: str | None = None,
) -> Claim | None:
    """Take the right to send the request of ``key``; ``None`` when it is not ours to send.

    ``values`` are the table's own columns of a new row (what is being sent). Without ``stale``
    the row is inserted; when another run's row is there, it is taken over only if ``lease`` is
    given and that row is in doubt. With ``stale`` (the token of an in-doubt claim the caller
    listed) that claim is taken over by compare-and-set. A taken-over claim is ``in_doubt``.
    """
    token, now = new_token(), utcnow()
    c, where = kind.table.c, kind.where(key)
    with engine.begin() as conn:
        if stale is not None:
            return _take_over(conn, kind, where, stale, token, now)
        row = {**key, **values, "state": SENDING, "claimed_by": token, "attempts": 1, "claimed_at": now}
        insert_ignore(conn, kind.table, [row])
        held = conn.execute(select(c.claimed_by, c.state, c.claimed_at).where(where)).one()
        if held.claimed_by == token:
            return Claim(token, in_doubt=False)
        if lease is None or held.state != SENDING or held.claimed_at >= now - lease:
            return None  # answered already, or another run is sending it right now
        return _take_over(conn, kind, where, held.claimed_by, token, now)


def _take_over(conn, kind: ClaimTable, where, stale: str, token: str, now: datetime) -> Claim | None:
    c = kind.table.c
    taken = conn.execute(
        update(kind.table)
        .where(where, c.claimed_by == stale, c.state == SENDING)
        .values(claimed_by=token, claimed_at=now, attempts=c.attempts + 1)
    ).rowcount
    return Claim(token, in_doubt=True) if taken == 1 else None


def finish(
    engine: Engine, kind: ClaimTable, key: Mapping[str, Any], token: str, state: str, message: str | None = None
) -> None:
    """Record the outcome of the claim ``token`` holds: ``kind.done``, ``rejected`` or ``sending``.

    ``sending`` (unknown outcome) ages the claim so the next run finds it in doubt and verifies.
    A token that lost its claim changes nothing.
    """
    values: dict[str, Any] = {"state": state, "message": message}
    if state == kind.done:
        values[kind.done_at] = utcnow()
    if state == SENDING:
        values["claimed_at"] = IN_DOUBT_SINCE
    with engine.begin() as conn:
        conn.execute(update(kind.table).where(kind.where(key), kind.table.c.claimed_by == token).values(**values))
