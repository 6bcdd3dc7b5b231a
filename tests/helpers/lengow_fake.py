"""A stand-in for the Lengow hook: answers ``GET /v3.0/marketplaces``, ``/v3.0/orders`` and
``/v3.0/orders/actions/`` from Python data and records every call, so channel tests need no server.

The reference payloads (Lengow's own plugin fixtures and OpenAPI) live outside the repository, in
``../shared/reference/lengow``; :func:`reference` loads one, or skips the test when they are absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ordersync.errors import MarketplaceUnavailable
from ordersync.hooks import MarketplaceHook

REPO = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("ORDERSYNC_LENGOW_REFERENCE", REPO.parent / "shared" / "reference" / "lengow"))


def reference(name: str) -> Any:
    path = REFERENCE / name
    if not path.exists():
        message = f"Lengow reference payloads not found at {REFERENCE} (set ORDERSYNC_LENGOW_REFERENCE)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must run the contract tests against the real references")
        pytest.skip(message)
    return json.loads(path.read_text(encoding="utf-8"))


class Answer:
    def __init__(self, body: Any, status: int = 200):
        self.body, self.status_code = body, status

    def json(self) -> Any:
        return self.body


class FakeLengowHook:
    """``call`` / ``send_once`` / ``account_id``, the hook surface the channel uses (``send_once``
    is the real hook's, over this fake's ``call``).

    :param marketplaces: the ``GET /v3.0/marketplaces`` answer.
    :param orders: order payloads served by ``GET /v3.0/orders`` (filtered by marketplace,
        ``marketplace_order_id`` and ``lengow_status``; paged by ``page_size`` with full-URL ``next``).
    :param actions: action rows served by ``GET /v3.0/orders/actions/``; a POST adds one.
    :param lose_posts: the next n POSTs are queued, then answer "unavailable" (answer lost).
    :param drop_posts: the next n POSTs answer "unavailable" and queue nothing.
    """

    max_retries = 3
    backoff, max_backoff = 1.0, 60.0
    send_once = MarketplaceHook.send_once

    def __init__(self, marketplaces: dict | None = None, orders: list[dict] | None = None,
                 actions: list[dict] | None = None, account: int = 155, lose_posts: int = 0, drop_posts: int = 0):
        self.marketplaces = marketplaces or {}
        self.orders = orders or []
        self.actions = actions if actions is not None else []
        self.account, self.lose_posts, self.drop_posts = account, lose_posts, drop_posts
        self.calls: list[tuple[str, str, dict | None, Any]] = []
        self.waits: list[float] = []
        self.stats = {"retried": 0}

    def account_id(self) -> int:
        return self.account

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)

    def posts(self) -> list[dict]:
        return [body for method, _, _, body in self.calls if method == "POST"]

    def gets(self, endpoint: str) -> list[dict]:
        return [params for method, where, params, _ in self.calls if method == "GET" and where == endpoint]

    def call(self, method: str, endpoint: str, *, params: dict | None = None, json: Any = None,
             retry_unknown: bool = True) -> Answer:
        self.calls.append((method, endpoint, params, json))
        if method == "GET" and endpoint == "/v3.0/marketplaces":
            return Answer(self.marketplaces)
        if method == "GET" and endpoint == "/v3.0/orders":
            rows = [o for o in self.orders
                    if params.get("marketplace") in (None, o.get("marketplace"))
                    and params.get("marketplace_order_id") in (None, o.get("marketplace_order_id"))
                    and params.get("lengow_status") in (None, o.get("lengow_status"))]
            return Answer(self._page(endpoint, rows, params))
        if method == "GET" and endpoint == "/v3.0/orders/actions/":
            rows = [a for a in self.actions
                    if params.get("marketplace_order_id") in (None, a.get("marketplace_order_id"))
                    and params.get("action_type") in (None, a.get("action_type"))]
            return Answer(self._page(endpoint, rows, params))
        if method == "POST" and endpoint == "/v3.0/orders/actions/":
            assert retry_unknown is False, "an action POST must never be retried blindly"
            if self.drop_posts:
                self.drop_posts -= 1
                raise MarketplaceUnavailable("POST /v3.0/orders/actions/: 503")
            row = {"id": len(self.actions) + 1, "processed": False, "queued": True, "errors": "", "line": None,
                   "created_at": f"2026-01-01T00:00:{len(self.actions):02d}Z", **json}
            self.actions.append(row)
            if self.lose_posts:
                self.lose_posts -= 1
                raise MarketplaceUnavailable("POST /v3.0/orders/actions/: 502 (outcome unknown)")
            return Answer({**row, "queued": False}, 201)
        raise AssertionError(f"unexpected call {method} {endpoint}")

    @staticmethod
    def _page(endpoint: str, rows: list[dict], params: dict) -> dict:
        page, size = int(params.get("page", 1)), int(params.get("page_size", 100))
        assert 1 <= size <= 100, size
        more = page * size < len(rows)
        url = f"https://api.lengow.io{endpoint}?page={{}}&page_size={size}"
        return {"count": len(rows), "next": url.format(page + 1) if more else None,
                "previous": url.format(page - 1) if page > 1 else None, "results": rows[(page - 1) * size: page * size]}
