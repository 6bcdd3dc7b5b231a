"""The sandbox's usage plans and injected faults, over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from tests.contract.test_sandbox_amazon_model import MODELS, ORDERS_MODEL, Model
from tests.helpers.sandbox import start_sandbox

SEARCH = "/orders/2026-01-01/orders"
IT = "APJ6JRA9NG5V4"
FR = "A13V1IB3VIYZZH"
US = "ATVPDKIKX0DER"
QUOTA = {"errors": [{"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.",
                     "details": ""}]}


@pytest.fixture(scope="module")
def sandbox():
    # time scale 1: buckets do not refill noticeably during a test
    with start_sandbox(seed=5, days=1, orders_per_day=5, countries="IT,FR,US", usage_plans=True,
                       time_scale=1) as running:
        yield running


@pytest.fixture
def api(sandbox):
    sandbox.post_admin("/reset")
    sandbox.post_admin("/settings", {"usage_plans": True, "time_scale": 1})
    token = requests.post(sandbox.url + "/auth/o2/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": "sandbox-refresh-token",
        "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}).json()["access_token"]
    session = requests.Session()
    session.headers["x-amz-access-token"] = token
    yield session
    session.close()


def _search(sandbox, api, marketplace=IT):
    return api.get(sandbox.url + SEARCH, params={"createdAfter": "2020-01-01T00:00:00Z",
                                                 "marketplaceIds": marketplace}, timeout=10)


def test_the_searchorders_burst_is_shared_by_a_region_and_then_429s_exactly_like_amazon(sandbox, api):
    statuses = [_search(sandbox, api, IT if i % 2 else FR).status_code for i in range(20)]
    assert statuses == [200] * 20  # IT and FR share the EU bucket of 20
    refused = _search(sandbox, api, IT)
    assert refused.status_code == 429
    assert refused.json() == QUOTA
    assert "retry-after" not in refused.headers
    assert not [h for h in refused.headers if h.lower().startswith("x-amzn-ratelimit")]
    assert refused.headers["x-amzn-RequestId"]
    assert _search(sandbox, api, US).status_code == 200  # NA has its own bucket
    assert sandbox.get_admin("/throttled")["throttled"] == {"searchOrders": 1}
    if (MODELS / ORDERS_MODEL).is_file():
        Model(Path(MODELS / ORDERS_MODEL)).check("ErrorList", refused.json())


def test_answers_carry_the_headers_the_model_declares(sandbox, api):
    ok = _search(sandbox, api, IT)
    assert ok.status_code == 200
    assert ok.headers["x-amzn-RateLimit-Limit"] == "0.0056"  # searchOrders' published rate
    assert ok.headers["x-amzn-RequestId"]
    order_id = ok.json()["orders"][0]["orderId"]
    one = api.get(f"{sandbox.url}{SEARCH}/{order_id}", timeout=10)
    assert (one.status_code, one.headers["x-amzn-RateLimit-Limit"]) == (200, "0.5")
    assert _search(sandbox, api, IT).headers["x-amzn-RequestId"] != ok.headers["x-amzn-RequestId"]


def test_authentication_comes_before_throttling(sandbox, api):
    def search_without_token():
        return requests.get(sandbox.url + SEARCH, params={"createdAfter": "2020-01-01T00:00:00Z",
                                                          "marketplaceIds": IT}, timeout=10)

    for _ in range(25):  # more than the burst: none of them spends quota
        refused = search_without_token()
        assert refused.status_code == 403
        assert refused.headers["x-amzn-RequestId"] and "x-amzn-RateLimit-Limit" not in refused.headers
    assert sandbox.get_admin("/throttled")["throttled"] == {}
    assert [_search(sandbox, api, IT).status_code for _ in range(20)] == [200] * 20  # the whole burst is left
    assert _search(sandbox, api, IT).status_code == 429
    assert search_without_token().status_code == 403  # an empty bucket still answers 403 first


def test_time_scale_refills_faster(sandbox, api):
    sandbox.post_admin("/settings", {"usage_plans": True, "time_scale": 1_000_000})
    assert all(_search(sandbox, api).status_code == 200 for _ in range(40))


def test_faults_error_bursts_after_n_and_until_cleared(sandbox, api):
    sandbox.post_admin("/settings", {"usage_plans": False})
    sandbox.post_admin("/faults", {"operation": "searchOrders", "status": 503, "count": 2, "after": 1})
    assert [_search(sandbox, api).status_code for _ in range(4)] == [200, 503, 503, 200]
    assert _search(sandbox, api).status_code == 200
    sandbox.post_admin("/faults", {"status": 500})  # every operation, until cleared
    assert _search(sandbox, api).status_code == 500
    assert sandbox.get_admin("/faults")["faults"][0]["remaining"] is None
    sandbox.http.delete(sandbox.url + "/_admin/faults", timeout=10).raise_for_status()
    assert _search(sandbox, api).status_code == 200
    body = _search(sandbox, api)
    assert sandbox.get_admin("/throttled")["injected"] == {"searchOrders": 3}
    assert body.status_code == 200


def test_outage_and_stale_page_tokens(sandbox, api):
    sandbox.post_admin("/settings", {"usage_plans": False})
    sandbox.post_admin("/faults", {"outage_seconds": 600})
    down = _search(sandbox, api)
    assert down.status_code == 503 and down.json()["errors"][0]["code"] == "ServiceUnavailable"
    sandbox.http.delete(sandbox.url + "/_admin/faults", timeout=10)
    # an outage until cleared takes every channel down, the admin routes stay up
    sandbox.post_admin("/faults", {"outage": True})
    assert sandbox.get_admin("/faults")["outage_seconds_left"] == "until cleared"
    assert _search(sandbox, api).status_code == 503
    for path in ("/octopia/orders", "/lengow/v3.0/orders"):
        assert requests.get(sandbox.url + path, timeout=10).status_code == 503
    assert sandbox.get_admin("/cdiscount/orders")["orders"]
    sandbox.http.delete(sandbox.url + "/_admin/faults", timeout=10)
    assert requests.get(sandbox.url + "/octopia/orders", timeout=10).status_code == 401  # up again: asks for a token
    sandbox.post_admin("/faults", {"stale_page_tokens": 1})
    first = api.get(sandbox.url + SEARCH, params={"createdAfter": "2020-01-01T00:00:00Z", "maxResultsPerPage": 1},
                    timeout=10).json()
    token = first["pagination"]["nextToken"]
    params = {"createdAfter": "2020-01-01T00:00:00Z", "maxResultsPerPage": 1, "paginationToken": token}
    stale = api.get(sandbox.url + SEARCH, params=params, timeout=10)
    assert stale.status_code == 400 and "expired" in stale.json()["errors"][0]["message"]
    assert api.get(sandbox.url + SEARCH, params=params, timeout=10).status_code == 200


def test_bad_fault_specs_are_refused(sandbox):
    response = sandbox.http.post(sandbox.url + "/_admin/faults", data=json.dumps({"status": 200}), timeout=10)
    assert response.status_code == 400
