"""Region-wide listings: how far one seller account's orders have been listed in a region.

Amazon's usage plans are per seller account and region, and one ``searchOrders`` takes every
marketplace id of the region, so the countries of a seller share one listing per interval instead
of making one each. The ``region_watermarks`` row of a scope (``<conn_id>:<region>:<kind>``) says
up to when the listing of that kind has been made (``covered_until``) and who is making it now
(``locked_by`` with a lease). Taking and releasing it is one compare-and-set on ``version``, like
the usage-plan buckets (``ratelimit.DatabaseBuckets``) and the claims (``shop.claims``), so it
holds across task processes on SQLite, PostgreSQL and MariaDB. A lister that dies leaves a lease
that runs out; the next lookup takes over. Staging is idempotent, so two listers overlapping
(a lease taken over from a slow one) never duplicate anything: they only spend requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, or_, select, update

from ordersync.shop import schema as t
from ordersync.shop.db import StoreBase, insert_ignore, new_token, utcnow


@dataclass(frozen=True)
class ListingTurn:
    """What :meth:`RegionListings.take_listing` found: the watermark, and the lock if we got it."""

    covered_until: datetime | None
    token: str | None  # ours to list with; None while another lookup holds the lease


class RegionListings(StoreBase):
    """The watermark and lock of region-wide listings."""

    def take_listing(self, scope: str, lease: timedelta, now: datetime | None = None) -> ListingTurn:
        """Take the scope's lock unless another lookup holds an unexpired lease."""
        now = now or utcnow()
        rw = t.region_watermarks.c

        def attempt(conn: Connection) -> ListingTurn | None:
            row = conn.execute(
                select(rw.covered_until, rw.locked_by, rw.locked_until, rw.version).where(rw.scope == scope)
            ).first()
            if row is None:
                insert_ignore(conn, t.region_watermarks, [{"scope": scope, "covered_until": None, "version": 0}])
                return None
            if row.locked_by is not None and row.locked_until is not None and row.locked_until > now:
                return ListingTurn(row.covered_until, None)
            token = new_token()
            done = conn.execute(
                update(t.region_watermarks)
                .where(rw.scope == scope, rw.version == row.version)
                .values(locked_by=token, locked_until=now + lease, version=row.version + 1)
            ).rowcount
            return ListingTurn(row.covered_until, token) if done == 1 else None

        for _ in range(200):  # compare-and-set: another process may win; re-read and retry
            # concurrent first inserts of the row deadlock on MariaDB's gap locks: retried too
            turn = self.transaction(attempt)
            if turn is not None:
                return turn
        raise RuntimeError(f"region listing {scope!r}: too much contention")

    def renew_listing(self, scope: str, token: str, lease: timedelta) -> bool:
        """Push our lease on (after every page); False when another lookup took it over."""
        rw = t.region_watermarks.c
        return self.transaction(lambda conn: conn.execute(
            update(t.region_watermarks)
            .where(rw.scope == scope, rw.locked_by == token)
            .values(locked_until=utcnow() + lease, version=rw.version + 1)
        ).rowcount == 1)

    def finish_listing(self, scope: str, token: str, covered_until: datetime | None) -> None:
        """Release our lock; ``covered_until`` (a listing that completed) moves the watermark
        forward, never back, even when our lease was taken over meanwhile."""
        rw = t.region_watermarks.c

        def release(conn: Connection) -> None:
            if covered_until is not None:
                conn.execute(
                    update(t.region_watermarks)
                    .where(rw.scope == scope, or_(rw.covered_until.is_(None), rw.covered_until < covered_until))
                    .values(covered_until=covered_until, version=rw.version + 1)
                )
            conn.execute(
                update(t.region_watermarks)
                .where(rw.scope == scope, rw.locked_by == token)
                .values(locked_by=None, locked_until=None, version=rw.version + 1)
            )

        self.transaction(release)

    def advance_watermark(self, scope: str, covered_until: datetime) -> None:
        """Move a scope's watermark forward, never back (an entry's own listing: no lock, its
        runs list their own windows and only say how far they got); the row is made on first use."""
        rw = t.region_watermarks.c

        def advance(conn: Connection) -> None:
            insert_ignore(conn, t.region_watermarks, [{"scope": scope, "covered_until": None, "version": 0}])
            conn.execute(
                update(t.region_watermarks)
                .where(rw.scope == scope, or_(rw.covered_until.is_(None), rw.covered_until < covered_until))
                .values(covered_until=covered_until, version=rw.version + 1)
            )

        self.transaction(advance)

    def staged_in(
        self, marketplace: str, country: str, start: datetime, end: datetime, fulfillment: str | None = None,
        statuses: tuple[str, ...] = (),
    ) -> list[str]:
        """Orders of a country staged with a last update in ``start..end`` (and one of
        ``statuses``): what another task's region listing of that span brought in for it."""
        ic = t.inbox.c
        query = select(ic.marketplace_order_id).where(
            ic.marketplace == marketplace, ic.country == country,
            ic.marketplace_updated_at >= start, ic.marketplace_updated_at <= end,
        )
        if fulfillment is not None:
            query = query.where(ic.fulfillment == fulfillment)
        if statuses:
            query = query.where(ic.marketplace_status.in_(statuses))
        with self.engine.connect() as conn:
            return list(conn.execute(query.order_by(ic.id)).scalars())

    def covered_until(self, scope: str) -> datetime | None:
        rw = t.region_watermarks.c
        with self.engine.connect() as conn:
            return conn.execute(select(rw.covered_until).where(rw.scope == scope)).scalar()
