"""How a marketplace call is retried: tenacity over one attempt, with a budget per kind of answer.

``Again`` is what an attempt raises for an answer worth another try: ``throttled`` (429; waits
``Retry-After`` when sent, else backoff, up to the hook's ``max_throttle_wait``), ``failed`` (5xx,
network; ``max_retries`` times with doubling backoff) or ``refresh`` (a new token, at once).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Protocol

import requests
import tenacity


class RetryPolicy(Protocol):
    max_retries: int
    backoff: float
    max_backoff: float
    max_throttle_wait: float | None
    stats: dict[str, float]

    def sleep(self, seconds: float) -> None: ...


class Again(Exception):
    """Internal: an answer worth another attempt. ``kind`` picks the budget it spends."""

    def __init__(self, kind: str, message: str, after: float | None = None):
        super().__init__(message)
        self.kind, self.message, self.after = kind, message, after


class Budget:
    """What one call has spent; tenacity's after / wait / stop (called in that order) keep it."""

    def __init__(self, hook: RetryPolicy):
        self.hook = hook
        self.failures = 0
        self.throttled = 0
        self.throttled_for = 0.0

    def charge(self, again: Again) -> None:
        if again.kind == "throttled":
            self.throttled += 1
            self.hook.stats["throttled"] += 1
        elif again.kind == "failed":
            self.failures += 1
            self.hook.stats["retried"] += 1

    def wait(self, again: Again) -> float:
        hook = self.hook
        if again.kind == "throttled":
            if again.after is not None:  # the marketplace said how long
                seconds = again.after
            else:
                seconds = min(hook.backoff * 2 ** min(self.throttled - 1, 10), hook.max_backoff)
            self.throttled_for += seconds
            return seconds
        if again.kind == "failed":
            return min(hook.backoff * 2 ** (self.failures - 1), hook.max_backoff)
        return 0.0  # a refreshed token: at once

    def exhausted(self, again: Again) -> bool:
        hook = self.hook
        if again.kind == "failed":
            return self.failures > hook.max_retries
        if again.kind == "throttled":
            return hook.max_throttle_wait is not None and self.throttled_for > hook.max_throttle_wait
        return False


def retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), None when absent."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_text(response: requests.Response) -> tuple[str, str]:
    """(code, message) from the error bodies marketplaces send: Amazon ``errors[]``, Octopia
    problem+json (``title``/``detail``), Lengow ``{"error": {"code", "message"}}``, OAuth."""
    try:
        body = response.json()
    except ValueError:
        return "?", response.text[:200]
    if not isinstance(body, dict):
        return "?", str(body)[:200]
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {"message": str(errors[0])}
        return str(first.get("code", "?")), str(first.get("message", ""))[:500]
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code", "?")), str(error.get("message", ""))[:500]
    code = error or body.get("code") or body.get("title") or "?"
    message = str(body.get("message") or body.get("detail") or body.get("error_description") or "")
    if isinstance(errors, dict) and errors:  # problem+json: the fields at fault
        message += " (" + "; ".join(f"{field}: {why}" for field, why in errors.items()) + ")"
    return str(code), message[:500]


def retrying(hook: RetryPolicy, attempt: Callable[[], requests.Response]) -> requests.Response:
    """``attempt()`` until it returns, raises something else than :class:`Again`, or ``hook``'s
    budget for that kind of answer is spent (then the last :class:`Again` is raised)."""
    budget = Budget(hook)

    def stop(state: tenacity.RetryCallState) -> bool:
        again = state.outcome.exception() if state.outcome else None
        return not isinstance(again, Again) or budget.exhausted(again)

    def wait(state: tenacity.RetryCallState) -> float:
        again = state.outcome.exception() if state.outcome else None
        return budget.wait(again) if isinstance(again, Again) else 0.0

    def charge(state: tenacity.RetryCallState) -> None:
        again = state.outcome.exception() if state.outcome else None
        if isinstance(again, Again):
            budget.charge(again)

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(Again),
        stop=stop,
        wait=wait,
        after=charge,
        sleep=hook.sleep,
        reraise=True,
    )
    return retrying(attempt)


def connect_failure(exc: requests.RequestException) -> bool:
    """Whether the request never left (refused connection): resending it is always safe."""
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.ReadTimeout):
        return False
    text = str(exc)
    return any(word in text for word in ("Connection refused", "Failed to establish", "Name or service not known"))
