"""The one HTTP client every marketplace hook shares (``ordersync.hooks.client``), over
``requests_mock``: retries, Retry-After, lost answers, token refresh, the connection fetched once,
and no secret in any error message."""

from __future__ import annotations

import json
import os

import pytest

from ordersync.errors import MarketplaceAuthError, MarketplaceRequestError, MarketplaceUnavailable
from ordersync.hooks import AmazonSpApiHook, LengowHook, MarketplaceHook, OctopiaHook

BASE = "https://api.example.test"
LENGOW_TOKEN = "c682877f-5933-4928-914a-69bac1d750ed"


@pytest.fixture(autouse=True)
def connections(monkeypatch):
    conns = {
        "AIRFLOW_CONN_LG": {"conn_type": "http", "host": BASE, "login": "lg-access-token", "password": "lg-secret-value"},
        "AIRFLOW_CONN_OCT": {"conn_type": "http", "host": BASE, "login": "oct-client", "password": "oct-secret-value",
                             "extra": {"seller_id": "777", "token_url": f"{BASE}/token", "max_retries": 2, "backoff": 0.5}},
        "AIRFLOW_CONN_AMZ": {"conn_type": "http", "host": BASE, "login": "amzn-client", "password": "amzn-secret-value",
                             "extra": {"refresh_token": "Atzr|refresh-value", "lwa_url": f"{BASE}/lwa", "rate_limit": False}},
    }
    for key, value in conns.items():
        monkeypatch.setenv(key, json.dumps(value))
    MarketplaceHook._tokens.clear()
    yield
    MarketplaceHook._tokens.clear()


def _lengow(requests_mock, waits):
    requests_mock.post(f"{BASE}/access/get_token", json={"account_id": 1, "token": LENGOW_TOKEN})
    return LengowHook("lg", backoff=1, sleep=waits.append)


def test_429_waits_retry_after_when_sent_else_backoff(requests_mock):
    waits: list[float] = []
    hook = _lengow(requests_mock, waits)
    requests_mock.get(f"{BASE}/v3.0/orders", [
        {"status_code": 429, "headers": {"Retry-After": "7"}},
        {"status_code": 429},
        {"status_code": 429},
        {"json": {"results": []}},
    ])
    assert hook.call("GET", "/v3.0/orders").json() == {"results": []}
    assert waits == [7.0, 2.0, 4.0]  # Retry-After, then doubling backoff on the 2nd and 3rd 429
    assert hook.stats["throttled"] == 3


def test_throttling_past_its_limit_is_unavailable(requests_mock):
    waits: list[float] = []
    requests_mock.post(f"{BASE}/access/get_token", json={"account_id": 1, "token": LENGOW_TOKEN})
    hook = LengowHook("lg", max_throttle_wait=10, sleep=waits.append)
    requests_mock.get(f"{BASE}/v3.0/orders", status_code=429, headers={"Retry-After": "6"})
    with pytest.raises(MarketplaceUnavailable, match="throttled"):
        hook.call("GET", "/v3.0/orders")
    assert waits == [6.0]


def test_a_get_is_retried_on_5xx_with_the_connection_extras(requests_mock):
    waits: list[float] = []
    requests_mock.post(f"{BASE}/token", json={"access_token": "oct-token", "expires_in": 7200})
    requests_mock.get(f"{BASE}/orders", [{"status_code": 503}, {"status_code": 502}, {"status_code": 500}])
    hook = OctopiaHook("oct", sleep=waits.append)
    with pytest.raises(MarketplaceUnavailable, match="500"):
        hook.call("GET", "/orders")
    # extra.max_retries=2, extra.backoff=0.5: three attempts, two waits
    assert (requests_mock.call_count - 1, waits) == (3, [0.5, 1.0])
    sent = requests_mock.request_history[-1]
    assert sent.headers["Authorization"] == "Bearer oct-token" and sent.headers["SellerId"] == "777"
    assert not {"seller_id", "token_url", "max_retries", "backoff"} & set(sent.headers)


def test_a_post_whose_answer_was_lost_is_not_resent_blindly(requests_mock):
    waits: list[float] = []
    hook = _lengow(requests_mock, waits)
    post = requests_mock.post(f"{BASE}/v3.0/orders/actions/", [{"status_code": 500}, {"status_code": 201, "json": {}}])
    with pytest.raises(MarketplaceUnavailable, match="outcome unknown"):
        hook.call("POST", "/v3.0/orders/actions/", json={"action_type": "ship"})
    assert post.call_count == 1
    # send_once asks the marketplace first: it got through, so nothing goes twice
    checks: list[bool] = []
    post = requests_mock.post(f"{BASE}/v3.0/orders/actions/", status_code=502)
    hook.send_once("POST", "/v3.0/orders/actions/", json={}, already_done=lambda: checks.append(True) or True)
    assert (checks, post.call_count) == ([True], 1)
    # ... and it did not get through: sent again, after looking
    post = requests_mock.post(f"{BASE}/v3.0/orders/actions/", [{"status_code": 502}, {"status_code": 201, "json": {}}])
    looked: list[bool] = []
    hook.send_once("POST", "/v3.0/orders/actions/", json={}, already_done=lambda: looked.append(False) or False)
    assert (looked, post.call_count) == ([False], 2)


def test_a_refused_connection_is_resent_even_for_a_post(requests_mock):
    import requests

    waits: list[float] = []
    hook = _lengow(requests_mock, waits)
    requests_mock.post(f"{BASE}/v3.0/orders/actions/", [
        {"exc": requests.ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused")},
        {"status_code": 201, "json": {"id": 1}},
    ])
    assert hook.call("POST", "/v3.0/orders/actions/", json={}).json() == {"id": 1}  # it never left


def test_lengow_refreshes_an_expired_token_on_403_and_masks_it(requests_mock):
    waits: list[float] = []
    token = requests_mock.post(f"{BASE}/access/get_token", json={"account_id": 1, "token": LENGOW_TOKEN})
    hook = LengowHook("lg", sleep=waits.append)
    expired = {"error": {"code": 403, "message": f"Token: {LENGOW_TOKEN} is expired"}}
    requests_mock.get(f"{BASE}/v3.0/orders", [{"status_code": 403, "json": expired}, {"json": {"count": 0}}])
    assert hook.call("GET", "/v3.0/orders").json() == {"count": 0}
    assert token.call_count == 2  # a new token after the 403
    assert requests_mock.request_history[-1].headers["Authorization"] == LENGOW_TOKEN  # no "Bearer"
    # still refused with a fresh token: a credentials problem, and the token is never shown
    requests_mock.get(f"{BASE}/v3.0/orders", status_code=403, json=expired)
    with pytest.raises(MarketplaceAuthError) as err:
        hook.call("GET", "/v3.0/orders")
    assert LENGOW_TOKEN not in str(err.value) and "'lg'" in str(err.value) and "***" in str(err.value)


def test_token_is_cached_and_the_connection_read_once(requests_mock, monkeypatch):
    from airflow.sdk import BaseHook

    reads: list[str] = []
    real = BaseHook.get_connection.__func__

    def counting(cls, conn_id):
        reads.append(conn_id)
        return real(cls, conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(counting))
    token = requests_mock.post(f"{BASE}/lwa", json={"access_token": "amzn-access", "expires_in": 3600})
    requests_mock.get(f"{BASE}/orders/2026-01-01/orders", json={"orders": []})
    hook = AmazonSpApiHook("amz", sleep=lambda s: None)
    for _ in range(3):
        hook.call("GET", "/orders/2026-01-01/orders", operation="searchOrders")
    assert token.call_count == 1 and reads == ["amz"]
    assert requests_mock.request_history[-1].headers["x-amz-access-token"] == "amzn-access"
    AmazonSpApiHook("amz").call("GET", "/orders/2026-01-01/orders")  # another hook, same process
    assert token.call_count == 1


def test_token_endpoint_errors_say_what_to_fix_without_secrets(requests_mock):
    requests_mock.post(f"{BASE}/lwa", status_code=400, json={"error": "invalid_grant", "error_description": "bad"})
    with pytest.raises(MarketplaceAuthError, match="refresh_token is invalid") as err:
        AmazonSpApiHook("amz").call("GET", "/x")
    for secret in ("amzn-secret-value", "Atzr|refresh-value"):
        assert secret not in str(err.value)
    requests_mock.post(f"{BASE}/lwa", status_code=503)
    with pytest.raises(MarketplaceUnavailable, match="token endpoint unavailable"):
        AmazonSpApiHook("amz", max_retries=1, backoff=0).call("GET", "/x")


def test_other_4xx_is_a_request_error_for_the_caller(requests_mock):
    requests_mock.post(f"{BASE}/token", json={"access_token": "t", "expires_in": 7200})
    problem = {"title": "Bad Request", "detail": "approval_status is required", "errors": {"approval_status": ["required"]}}
    requests_mock.post(f"{BASE}/orders/A/approval-status", status_code=400, json=problem,
                       headers={"Content-Type": "application/problem+json"})
    with pytest.raises(MarketplaceRequestError) as err:
        OctopiaHook("oct").call("POST", "/orders/A/approval-status", json={})
    assert (err.value.status, err.value.code, err.value.message) == (400, "Bad Request", "approval_status is required (approval_status: ['required'])")


def test_missing_fields_are_named_together():
    os.environ["AIRFLOW_CONN_OCT_EMPTY"] = json.dumps({"conn_type": "http", "host": BASE})
    try:
        with pytest.raises(MarketplaceAuthError, match=r"lacks login \(client id\), password \(client secret\), extra.seller_id"):
            OctopiaHook("oct_empty").call("GET", "/orders")
    finally:
        os.environ.pop("AIRFLOW_CONN_OCT_EMPTY")


def test_test_connection_buttons_say_what_failed_without_secrets(requests_mock):
    requests_mock.post(f"{BASE}/lwa", json={"access_token": "amzn-access", "expires_in": 3600})
    searches = requests_mock.get(f"{BASE}/orders/2026-01-01/orders", json={"orders": []})
    ok, message = AmazonSpApiHook("amz").test_connection()
    assert ok and "token and a one-page read" in message
    assert searches.last_request.qs["maxresultsperpage"] == ["1"]
    requests_mock.post(f"{BASE}/token", status_code=401, json={"error": "invalid_client", "error_description": "oct-secret-value?"})
    ok, message = OctopiaHook("oct").test_connection()
    assert not ok and "MarketplaceAuthError" in message and "oct-secret-value" not in message
    requests_mock.post(f"{BASE}/access/get_token", json={"account_id": 1, "token": LENGOW_TOKEN})
    requests_mock.get(f"{BASE}/v3.0/orders", status_code=503)
    ok, message = LengowHook("lg", max_retries=0).test_connection()
    assert not ok and "503" in message
