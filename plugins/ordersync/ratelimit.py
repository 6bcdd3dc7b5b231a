"""Client-side token buckets for the marketplace usage plans, shared across task processes.

Amazon's plans are per selling partner and region: IT, FR and DE of one seller draw on the same
searchOrders bucket, even when their tasks run in different worker processes. The bucket state
therefore lives in the shop database (table ``rate_limit_buckets``), updated by compare-and-set on
a version column so concurrent tasks never both spend the same token; an in-process state serves
tests and runs without a shop database.

A take *reserves* a token even when the bucket is empty (its level goes negative) and returns how
long to wait before sending: callers queue in the order they asked, and one database round trip
per request is enough.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Protocol

from ordersync.marketplaces import AMAZON_USAGE_PLANS, UsagePlan


class BucketState(Protocol):
    def take(self, bucket: str, rate: float, burst: int, now: float) -> float:
        """Reserve one token of ``bucket`` at time ``now``; seconds to wait before using it."""


def _refill_and_take(tokens: float, last: float, rate: float, burst: int, now: float) -> tuple[float, float]:
    level = min(float(burst), tokens + max(0.0, now - last) * rate) - 1.0
    return level, (0.0 if level >= 0 else -level / rate)


class LocalBuckets:
    """Bucket state in this process only (tests, single-process runs)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, bucket: str, rate: float, burst: int, now: float) -> float:
        with self._lock:
            tokens, last = self._state.get(bucket, (float(burst), now))
            level, wait = _refill_and_take(tokens, last, rate, burst, now)
            self._state[bucket] = (level, max(now, last))
            return wait


class DatabaseBuckets:
    """Bucket state in the shop database, safe across processes on SQLite, PostgreSQL, MariaDB."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def take(self, bucket: str, rate: float, burst: int, now: float) -> float:
        from sqlalchemy import select, update

        from ordersync.shop import schema as t
        from ordersync.shop.db import insert_ignore

        rb = t.rate_limit_buckets.c
        for _ in range(200):  # compare-and-set: another process may win; re-read and retry
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(rb.tokens, rb.refilled_at_us, rb.version).where(rb.bucket == bucket)
                ).first()
                if row is None:
                    insert_ignore(conn, t.rate_limit_buckets, [
                        {"bucket": bucket, "tokens": Decimal(burst), "refilled_at_us": int(now * 1e6), "version": 0}
                    ])
                    continue
                last = row.refilled_at_us / 1e6
                level, wait = _refill_and_take(float(row.tokens), last, rate, burst, now)
                done = conn.execute(
                    update(t.rate_limit_buckets)
                    .where(rb.bucket == bucket, rb.version == row.version)
                    .values(
                        tokens=Decimal(f"{level:.6f}"),
                        refilled_at_us=max(int(now * 1e6), row.refilled_at_us),
                        version=row.version + 1,
                    )
                ).rowcount
            if done == 1:
                return wait
        raise RuntimeError(f"rate limit bucket {bucket!r}: too much contention")


_PROCESS_BUCKETS = LocalBuckets()
HEADROOM = 1


class RateLimiter:
    """Paces one seller account's calls in one region to the operations' usage plans.

    :param scope: ``<conn_id>:<region>``; every country of the seller in the region shares it.
    :param state: where buckets live (:class:`DatabaseBuckets` to share across processes).
    :param scale: multiply the plans' rates (a sandbox running N times faster than Amazon).
    """

    def __init__(
        self,
        scope: str,
        state: BucketState | None = None,
        plans: Mapping[str, UsagePlan] = AMAZON_USAGE_PLANS,
        scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.scope, self.state, self.plans = scope, state or _PROCESS_BUCKETS, plans
        self.scale, self.clock, self.sleep = scale, clock, sleep
        self.waited = 0.0

    def acquire(self, operation: str) -> float:
        """Block until a request of ``operation`` may be sent; returns the seconds waited."""
        plan = self.plans.get(operation)
        if plan is None:
            return 0.0
        # One token of headroom below Amazon's burst: our bucket refills on our clock, Amazon's on
        # its own, and a request arrives a little after we send it.
        burst = max(1, plan.burst - HEADROOM)
        wait = self.state.take(f"{self.scope}:{operation}", plan.rate * self.scale, burst, self.clock())
        if wait > 0:
            self.sleep(wait)
            self.waited += wait
        return wait
