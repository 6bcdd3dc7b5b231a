"""Runs: what each step of an entry did (``sync_runs``) and when it last finished (``sync_state``)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from ordersync.shop import schema as t
from ordersync.shop.db import StoreBase, insert_ignore, utcnow

# the sync_state column each step's finish time goes to (the summary's "last import")
LAST_FINISHED = {"lookup": "last_lookup_at", "import": "last_import_at", "fulfillment": "last_fulfillment_at"}


class Runs(StoreBase):
    """Step runs and the entry's sync state."""

    def record_run(
        self,
        entry: Any,
        step: str,
        run_id: str,
        counts: dict[str, Any],
        window: Any = None,
    ) -> None:
        """Keep one row per (entry, step, run): a retried task overwrites, never duplicates."""
        sr = t.sync_runs.c
        values = {
            "marketplace": entry.marketplace,
            "country": entry.country,
            "entry": entry.key,
            "step": step,
            "run_id": run_id,
            "window_start": window.start if window else None,
            "window_end": window.end if window else None,
            "counts": json.dumps(counts, sort_keys=True),
            "finished_at": utcnow(),
        }

        def write(conn: Connection) -> None:
            insert_ignore(conn, t.sync_runs, [values])
            conn.execute(
                update(t.sync_runs)
                .where(sr.entry == entry.key, sr.step == step, sr.run_id == run_id)
                .values(**values)
            )
            if step in LAST_FINISHED:
                ss = t.sync_state.c
                insert_ignore(
                    conn, t.sync_state, [{"entry": entry.key, "marketplace": entry.marketplace, "country": entry.country}]
                )
                changes = {LAST_FINISHED[step]: values["finished_at"]}
                if step == "lookup" and window is not None:
                    changes["last_window_end"] = window.end
                conn.execute(update(t.sync_state).where(ss.entry == entry.key).values(**changes))

        self.transaction(write)

    def has_lookup(self, entry_key: str) -> bool:
        """Whether a lookup of this entry ever finished (else the next one onboards the seller)."""
        sr = t.sync_runs.c
        with self.engine.connect() as conn:
            return conn.execute(
                select(sr.id).where(sr.entry == entry_key, sr.step == "lookup").limit(1)
            ).first() is not None
