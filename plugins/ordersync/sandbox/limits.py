"""Usage plans and injected faults: the sandbox throttles and fails the way Amazon does.

Usage plans are token buckets per (selling partner, region, operation) with the published rates
(``ordersync.marketplaces.AMAZON_USAGE_PLANS``); ``time_scale`` multiplies the rates so tests run
fast. An empty bucket answers Amazon's 429 exactly: ``QuotaExceeded`` with no Retry-After and no
rate-limit header. Faults are set through ``/_admin/faults``: a number of error answers for one
operation, an outage of every API call for some seconds, slow answers, or refused paging tokens.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from ordersync.marketplaces import AMAZON_USAGE_PLANS

QUOTA_EXCEEDED = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.",
                  "details": ""}
_STATUS_CODES = {400: "InvalidInput", 403: "Unauthorized", 404: "NotFound", 429: "QuotaExceeded",
                 500: "InternalFailure", 503: "ServiceUnavailable"}
_STATUS_MESSAGES = {500: "We encountered an internal error. Please try again.",
                    503: "Temporary overloading or maintenance of the server."}


def error_for(status: int) -> dict:
    """The ``errors[0]`` Amazon sends with a status (429 verbatim, others in its style)."""
    if status == 429:
        return dict(QUOTA_EXCEEDED)
    return {"code": _STATUS_CODES.get(status, "InternalFailure"),
            "message": _STATUS_MESSAGES.get(status, "The request failed."), "details": ""}


@dataclass
class _Fault:
    operation: str  # an operation name or "*"
    status: int | None  # answer this status ...
    delay: float  # ... or answer late by this many seconds
    remaining: int | None  # how many more requests it hits (None: until cleared)
    skip: int = 0  # let this many matching requests through first (a fault in mid-paging)


@dataclass
class Limits:
    """Buckets, faults and their counters; thread-safe (requests run on several threads)."""

    usage_plans: bool = False
    time_scale: float = 1.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _buckets: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    _faults: list[_Fault] = field(default_factory=list)
    _outage_until: float = 0.0
    _stale_page_tokens: int = 0
    throttled: Counter = field(default_factory=Counter)
    injected: Counter = field(default_factory=Counter)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._faults.clear()
            self._outage_until = 0.0
            self._stale_page_tokens = 0
            self.throttled.clear()
            self.injected.clear()

    def configure(self, usage_plans: bool | None = None, time_scale: float | None = None) -> dict:
        with self._lock:
            if usage_plans is not None:
                self.usage_plans = bool(usage_plans)
            if time_scale is not None:
                if time_scale <= 0:
                    raise ValueError("time_scale must be positive")
                self.time_scale = float(time_scale)
            self._buckets.clear()  # a new plan starts with full buckets
            return {"usage_plans": self.usage_plans, "time_scale": self.time_scale}

    def add_fault(self, spec: dict) -> dict:
        """Add a fault: ``{"operation", "status", "count", "after"?}``, ``{"delay_seconds", "count"?}``,
        ``{"outage_seconds"}``, ``{"outage": true}`` (until cleared) or ``{"stale_page_tokens": n}``.
        Outages hit every channel's API; the other faults Amazon's."""
        with self._lock:
            if "outage_seconds" in spec:
                self._outage_until = time.monotonic() + float(spec["outage_seconds"])
            if spec.get("outage") is True:  # down until the faults are cleared
                self._outage_until = float("inf")
            if "stale_page_tokens" in spec:
                self._stale_page_tokens += int(spec["stale_page_tokens"])
            status, delay = spec.get("status"), float(spec.get("delay_seconds") or 0)
            if status is not None or delay:
                if status is not None and not (isinstance(status, int) and 400 <= status <= 599):
                    raise ValueError("status must be an HTTP error status (400-599)")
                count = spec.get("count")
                self._faults.append(_Fault(str(spec.get("operation") or "*"), status, delay,
                                           int(count) if count is not None else None, int(spec.get("after") or 0)))
            return self.describe()

    def describe(self) -> dict:
        return {"faults": [{"operation": f.operation, "status": f.status, "delay_seconds": f.delay,
                            "remaining": f.remaining} for f in self._faults],
                "outage_seconds_left": max(0.0, round(self._outage_until - time.monotonic(), 3))
                if self._outage_until != float("inf") else "until cleared",
                "stale_page_tokens": self._stale_page_tokens,
                "usage_plans": self.usage_plans, "time_scale": self.time_scale}

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._outage_until = 0.0
            self._stale_page_tokens = 0

    def check(self, operation: str, seller: str, region: str) -> tuple[int | None, float]:
        """For one incoming request: (error status to answer or None, seconds to delay first)."""
        with self._lock:
            if time.monotonic() < self._outage_until:
                self.injected[operation] += 1
                return 503, 0.0
            delay = 0.0
            for fault in list(self._faults):
                if fault.operation not in ("*", operation):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                if fault.status is not None:
                    self.injected[operation] += 1
                    return fault.status, fault.delay
                delay = max(delay, fault.delay)
            plan = AMAZON_USAGE_PLANS.get(operation)
            if self.usage_plans and plan is not None:
                now, key = time.monotonic(), (f"{seller}:{region}", operation)
                tokens, last = self._buckets.get(key, (float(plan.burst), now))
                tokens = min(float(plan.burst), tokens + (now - last) * plan.rate * self.time_scale)
                if tokens < 1.0:
                    self._buckets[key] = (tokens, now)
                    self.throttled[operation] += 1
                    return 429, delay
                self._buckets[key] = (tokens - 1.0, now)
            return None, delay

    def down(self, channel: str) -> bool:
        """Whether an outage answers this call of another channel (Cdiscount, Lengow) with 503."""
        with self._lock:
            if time.monotonic() < self._outage_until:
                self.injected[channel] += 1
                return True
            return False

    def take_stale_page_token(self) -> bool:
        """Whether this paging request must be refused as if its token had expired."""
        with self._lock:
            if self._stale_page_tokens > 0:
                self._stale_page_tokens -= 1
                return True
            return False
