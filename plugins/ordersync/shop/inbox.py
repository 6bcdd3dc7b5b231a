"""The inbox: every marketplace order lookup saw, verbatim, and what import made of it.

Lookup stages pages here (new orders inserted, changed ones sent back to import, older copies
never overwriting newer ones); import reads the rows with work to do and records each outcome
(imported, waiting, skipped, not imported with a reason on the ``not_imported`` list).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, func, select, update

from ordersync.channels.parsing import UNREADABLE_PREFIX
from ordersync.model import InboxRow, Rejection, StageCounts, StagedOrder
from ordersync.shop import schema as t
from ordersync.shop.bulk import insert_ignore_many
from ordersync.shop.db import StoreBase, among, insert_ignore, new_token, utcnow
from ordersync.validation import admit_staged

GRID_COLUMNS = (
    "store_name", "buyer_name", "purchase_date", "latest_ship_date", "total", "currency", "is_prime",
    "items_shipped", "items_unshipped",
)


class Inbox(StoreBase):
    """Staging, the inbox reads and states, the not-imported list."""

    def stage(self, marketplace: str, country: str, orders: Sequence[StagedOrder]) -> StageCounts:
        """Record a page of orders as seen; a changed order goes back to ``new`` for import."""
        now = utcnow()
        # keys and values every engine stores; an order without a usable id is kept under a key
        # derived from its payload and listed as not imported (reason unreadable)
        admitted = [admit_staged(o, now) for o in orders]
        return self.transaction(self._stage, marketplace, country, admitted)

    def _stage(self, conn: Connection, marketplace: str, country: str, orders: Sequence[StagedOrder]):
        counts = StageCounts()
        if not orders:
            return counts
        now = utcnow()
        ib = t.inbox.c
        latest = {o.order_id: o for o in sorted(orders, key=lambda o: o.last_updated)}
        existing = {
            r.marketplace_order_id: r
            for r in conn.execute(
                select(ib.marketplace_order_id, ib.marketplace_updated_at, ib.marketplace_status).where(
                    ib.marketplace == marketplace,
                    ib.country == country,
                    among(conn, ib.marketplace_order_id, sorted(latest)),
                )
            )
        }
        fresh = [o for key, o in sorted(latest.items()) if key not in existing]
        counts.new = _insert_new(conn, marketplace, country, fresh, now)
        for key, o in sorted(latest.items()):
            old = existing.get(key)
            if old is None:
                continue
            if o.last_updated > old.marketplace_updated_at or o.status != old.marketplace_status:
                counts.changed += _restage(conn, marketplace, country, o, now)
            else:
                counts.unchanged += 1
        unreadable = sorted({o.order_id for o in orders if o.order_id.startswith(UNREADABLE_PREFIX)})
        if unreadable:
            self._record_rejections(conn, marketplace, country, [
                Rejection(key, "unreadable", "the marketplace sent an order without a readable id") for key in unreadable
            ])
        return counts

    def inbox_to_import(
        self, marketplace: str, country: str, batch_size: int, order_ids: Iterable[str] | None = None
    ) -> Iterator[list[InboxRow]]:
        """Staged orders with work to do (new, not imported last time, changed after import), in batches.

        Keyset paging on the primary key so rows handled by the current batch never shift the next.
        ``order_ids`` limits the batches to those orders (manual actions).
        """
        ib = t.inbox.c
        last_id = 0
        only = sorted(set(order_ids)) if order_ids is not None else None
        while True:
            query = (
                select(ib.id, ib.marketplace_order_id, ib.marketplace_status, ib.payload, ib.state)
                .where(
                    ib.marketplace == marketplace,
                    ib.country == country,
                    ib.state.in_(("new", "not_imported", "changed")),
                    ib.id > last_id,
                )
                .order_by(ib.id)
                .limit(batch_size)
            )
            if only is not None:
                query = query.where(ib.marketplace_order_id.in_(only))
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            last_id = rows[-1].id
            yield [InboxRow(r.marketplace_order_id, r.marketplace_status, json.loads(r.payload), r.state) for r in rows]

    def reset_inbox(self, marketplace: str, country: str, order_ids: Iterable[str]) -> int:
        """Make orders eligible for import again (manual re-import); imported ones stay imported."""
        ids = sorted(set(order_ids))
        if not ids:
            return 0
        ib = t.inbox.c
        return self.transaction(lambda conn: conn.execute(
            update(t.inbox)
            .where(
                ib.marketplace == marketplace,
                ib.country == country,
                ib.marketplace_order_id.in_(ids),
                ib.state.in_(("skipped", "waiting", "not_imported", "recorded")),
            )
            .values(state="new", note=None)
        ).rowcount)

    def set_inbox_state(
        self, marketplace: str, country: str, order_ids: Iterable[str], state: str, note: str | None = None
    ) -> None:
        ids = sorted(set(order_ids))
        if not ids:
            return
        ib = t.inbox.c
        self.transaction(lambda conn: conn.execute(
            update(t.inbox)
            .where(ib.marketplace == marketplace, ib.country == country, among(conn, ib.marketplace_order_id, ids))
            .values(state=state, note=note, last_action=note[:255] if note else None)
        ))

    def record_rejections(self, marketplace: str, country: str, rejections: Sequence[Rejection]) -> int:
        """Put orders on the not-imported list with their reason (one row per order, kept current)."""
        if not rejections:
            return 0
        return self.transaction(self._record_rejections, marketplace, country, rejections)

    def _record_rejections(self, conn: Connection, marketplace: str, country: str, rejections):
        now = utcnow()
        latest = {r.order_id: r for r in rejections}
        ni = t.not_imported.c
        existing = set(
            conn.execute(
                select(ni.marketplace_order_id).where(
                    ni.marketplace == marketplace,
                    ni.country == country,
                    ni.marketplace_order_id.in_(sorted(latest)),
                )
            ).scalars()
        )
        insert_ignore(
            conn,
            t.not_imported,
            [
                {
                    "marketplace": marketplace,
                    "country": country,
                    "marketplace_order_id": key,
                    "reason": r.reason,
                    "message": r.message,
                    "attempts": 1,
                    "first_failed_at": now,
                    "last_failed_at": now,
                }
                for key, r in sorted(latest.items())
                if key not in existing
            ],
        )
        for key in sorted(existing):
            r = latest[key]
            conn.execute(
                update(t.not_imported)
                .where(ni.marketplace == marketplace, ni.country == country, ni.marketplace_order_id == key)
                .values(
                    reason=r.reason,
                    message=r.message,
                    attempts=ni.attempts + 1,
                    last_failed_at=now,
                    resolved_at=None,
                )
            )
        ib = t.inbox.c
        by_reason: dict[str, list[str]] = {}
        for key, r in latest.items():
            by_reason.setdefault(r.reason, []).append(key)
        for reason, keys in sorted(by_reason.items()):
            conn.execute(
                update(t.inbox)
                .where(ib.marketplace == marketplace, ib.country == country, ib.marketplace_order_id.in_(sorted(keys)))
                .values(state="not_imported", note=None, last_action=f"not imported: {reason}")
            )
        return len(latest)


def _insert_new(conn: Connection, marketplace: str, country: str, orders: list[StagedOrder], now: datetime) -> int:
    """Insert orders not staged before; returns how many this call created (a batch token)."""
    batch = new_token()
    inserted = insert_ignore_many(
        conn,
        t.inbox,
        [
            {
                "marketplace": marketplace,
                "country": country,
                "marketplace_order_id": o.order_id,
                "marketplace_status": o.status,
                "fulfillment": o.fulfillment,
                "marketplace_updated_at": o.last_updated,
                "payload": payload_text(o.payload),
                "state": "new",
                "batch": batch,
                "first_seen_at": now,
                "seen_at": now,
                **_grid(o),
            }
            for o in orders
        ],
    )
    if inserted is not None:
        return inserted
    ib = t.inbox.c
    # through the unique key of the page's orders: inbox.batch has no index, and the whole inbox is history
    return conn.execute(select(func.count()).where(
        ib.marketplace == marketplace, ib.country == country,
        among(conn, ib.marketplace_order_id, sorted({o.order_id for o in orders})), ib.batch == batch,
    )).scalar_one()


def _restage(conn: Connection, marketplace: str, country: str, o: StagedOrder, now: datetime) -> int:
    """Take a changed order's newer copy; returns 1 if it was newer than the staged one."""
    ib = t.inbox.c
    # only move forward: an older copy from an overlapping window never overwrites
    return conn.execute(
        update(t.inbox)
        .where(
            ib.marketplace == marketplace,
            ib.country == country,
            ib.marketplace_order_id == o.order_id,
            ib.marketplace_updated_at <= o.last_updated,
        )
        .values(
            marketplace_status=o.status,
            fulfillment=o.fulfillment,
            marketplace_updated_at=o.last_updated,
            payload=payload_text(o.payload),
            seen_at=now,
            state=_restaged_state(ib.state),
            **_grid(o),
        )
    ).rowcount


# no circular check: a payload is decoded JSON, it cannot hold itself (a fifth of the encoding time)
_PAYLOAD = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False)


def payload_text(payload: Any) -> str:
    """The payload as stored: sorted keys, no spaces (a tenth less to write and to decode)."""
    return _PAYLOAD.encode(payload)


def _restaged_state(state_col):
    """An order that changed on the marketplace is looked at again.

    An imported one becomes ``changed``: import then applies a cancellation or a status change
    to the shop order instead of creating one.
    """
    return case((state_col.in_(("imported", "changed")), "changed"), else_="new")


def _grid(o: StagedOrder) -> dict[str, Any]:
    """Every grid column, None where the channel gave nothing (executemany needs equal keys)."""
    return {name: o.grid.get(name) for name in GRID_COLUMNS}
