"""The Cdiscount channel and the Octopia sandbox against ``shared/reference/octopia/README.md``.

The reference is read here, not copied: the documented order fields come from its order block, the
approval and shipments bodies from its examples. Checked: the sandbox's order resource uses
documented fields only; every field the channel reads is documented; listings answer
``itemsPerPage``/``items`` with ``Link`` paging and no total, and the channel reads every page
(more than 100 orders: the old reader stopped after page one); the bodies the channel sends have
the reference's shapes; every sandbox order parses or raises InvalidOrder, nothing else.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ordersync.channels.cdiscount import CdiscountChannel
from ordersync.channels.parsing import InvalidOrder
from ordersync.hooks import MarketplaceHook
from ordersync.errors import MarketplaceRequestError, MarketplaceUnavailable
from ordersync.model import Fulfillment, MarketplaceOrder, OrderStatus, Shipment, Window
from ordersync.sandbox.cdiscount import CdiscountWorld, render

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "octopia" / "README.md"
ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

Fields = dict[str, Any]  # documented name -> None (a value) or Fields (an object, or a list of objects)


# -- the reference -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference() -> str:
    if not REFERENCE.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{REFERENCE} is missing: CI checks out shared/ beside the repository")
        pytest.skip(f"{REFERENCE} is not there (shared/ beside the repository)")
    return REFERENCE.read_text(encoding="utf-8")


def _braces(text: str) -> Fields:
    """Names inside the first ``{...}`` of ``text``: ``a, b?``, ``"id": "x"``, ``x / y?``, ``m: A | B``."""
    inner = text[text.index("{") + 1: text.index("}")]
    names: Fields = {}
    for item in inner.split(","):
        for name in item.split(":")[0].split("/"):
            name = name.strip().strip('"').rstrip("?")
            if name:
                names[name] = None
    return names


def order_fields(markdown: str) -> Fields:
    """The order block of the reference as nested documented names.

    One entry a line, names before a run of two spaces (several split by ``,`` or ``/``), an
    object's fields in braces (which may continue on the next lines), ``name[]`` for a list, the
    lines indented under ``lines[]`` belonging to it; deeper-indented text continues a comment.
    """
    start = markdown.index("An order (")
    block = markdown[markdown.index("```", start) + 3:]
    block = block[block.index("\n") + 1: block.index("```")]
    top: Fields = {}
    parent: Fields = top
    pending, pending_indent = "", 0

    def add(indent: int, text: str) -> None:
        nonlocal parent
        names, _, rest = re.split(r"\s{2,}", text, maxsplit=1)[0], None, (re.split(r"\s{2,}", text, maxsplit=1) + [""])[1]
        target = top if indent == 0 else parent
        listed = names.strip().endswith("[]")
        sub = _braces(rest) if rest and "{" in rest else ({} if listed else None)
        for name in re.split(r"[,/]", names):
            name = name.strip().rstrip("?").removesuffix("[]")
            if name:
                target[name] = sub
        if indent == 0 and listed:
            parent = sub

    for line in block.splitlines():
        if pending:
            pending += " " + line.strip()
            if pending.count("{") <= pending.count("}"):
                add(pending_indent, pending)
                pending = ""
            continue
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent > 4:
            continue  # a comment carried over from the entry above
        text = line.strip()
        if text.count("{") > text.count("}"):
            pending, pending_indent = text, indent
            continue
        add(indent, text)
    return top


@pytest.fixture(scope="module")
def documented(reference) -> Fields:
    return order_fields(reference)


def _example(markdown: str, starts: str) -> Any:
    """A JSON example quoted in backticks in the reference, beginning with ``starts``."""
    match = re.search(r"`(" + re.escape(starts) + r"[^`]*)`", markdown)
    assert match, f"the reference has no example starting with {starts}"
    return json.loads(match.group(1))


def test_the_reference_order_block_is_read(documented):
    """Guards the reader: a reference rewritten in another layout must fail here, not pass empty."""
    assert {"orderId", "purchasedAt", "createdAt", "updatedAt", "currencyCode", "status", "lines"} <= set(documented)
    assert documented["salesChannel"] == {"id": None, "name": None}
    assert {"firstName", "lastName", "email", "postalCode"} <= set(documented["billingAddress"])
    lines = documented["lines"]
    assert {"lineId", "orderLineId", "status", "offer", "quantity", "totalPrice", "shippingAddress", "parcels"} <= set(lines)
    assert {"sellerProductId", "supplyMode"} <= set(lines["offer"])
    assert set(lines["parcels"]) == {"parcelNumber", "carrierName", "trackingUrl"}
    assert "sellingPrice" in lines["totalPrice"] and "addressLine1" in lines["shippingAddress"]


def undocumented(value: Any, fields: Fields | None, path: str = "") -> list[str]:
    """Paths in ``value`` the reference does not document."""
    if isinstance(value, list):
        return [p for item in value for p in undocumented(item, fields, f"{path}[]")]
    if not isinstance(value, dict):
        return []
    if fields is None:
        return [f"{path}.{key}" for key in value]  # an object where the reference documents a plain value
    out = []
    for key, item in value.items():
        where = f"{path}.{key}" if path else key
        if key not in fields:
            out.append(where)
        else:
            out += undocumented(item, fields[key], where)
    return out


def is_documented(path: str, fields: Fields) -> bool:
    node: Fields | None = fields
    for part in path.replace("[]", "").split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


# -- the sandbox world -----------------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = ANCHOR

    def __call__(self):
        return self.now


def _world(seed: int = 42, orders_per_day: int = 12, days: int = 3) -> CdiscountWorld:
    return CdiscountWorld(Clock(), ANCHOR, seed=seed, days=days, orders_per_day=orders_per_day)


def _shipped_world() -> CdiscountWorld:
    """A world where a parcel was declared, so lines carry ``parcels``; every status shows."""
    world = _world()
    ready = next(o for o in world.all_orders() if o["status"] == "importable" and o["bad"] is None
                 and all(line.get("supply", "Seller") == "Seller" for line in o["lines"]))
    world.ship(ready["id"], {"tracking": "6A1", "carrier": "Colissimo", "url": "https://t/6A1",
                             "lines": [ready["lines"][0]["id"]]}, {"operation": "shipment"})
    for status in ("processing", "accepted", "delivered", "rejected"):
        world.add_order({"status": status, "lines": [{"sku": "X", "quantity": 1}]})
    return world


def test_sandbox_orders_use_only_documented_fields(documented):
    for world in (_shipped_world(), _world(seed=7), _world(seed=8)):
        for order in world.all_orders():
            wire = render(order)
            assert undocumented(wire, documented) == [], wire["orderId"]
            assert set(wire) == set(documented), "the order resource has every documented top-level field"
    shipped = [line for o in _shipped_world().all_orders() for line in render(o)["lines"] if line["parcels"]]
    assert shipped and all(set(p) == set(documented["lines"]["parcels"]) for line in shipped for p in line["parcels"])


# -- what the channel reads -----------------------------------------------------------------------


class Tracked(dict):
    """A payload that records the path of every field read from it."""

    def __init__(self, data: dict, reads: set[str], path: str = ""):
        super().__init__({k: _track(v, reads, f"{path}.{k}" if path else k) for k, v in data.items()})
        self._reads, self._path = reads, path

    def _note(self, key: Any) -> None:
        self._reads.add(f"{self._path}.{key}" if self._path else str(key))

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)


def _track(value: Any, reads: set[str], path: str) -> Any:
    if isinstance(value, dict):
        return Tracked(value, reads, path)
    if isinstance(value, list):
        return [_track(item, reads, f"{path}[]") for item in value]
    return value


class _Response:
    def __init__(self, body: Any, links: dict | None = None, status: int = 200):
        self._body, self.links, self.status_code, self.headers = body, links or {}, status, {}

    def json(self) -> Any:
        return self._body


class RecordingHook:
    """Stands in for OctopiaHook: records calls, serves orders by id and canned listing pages."""

    # the real hook's lost-answer protocol, over this fake's call()
    send_once = MarketplaceHook.send_once

    def __init__(self, orders: dict[str, dict] | None = None, pages: list[_Response] | None = None):
        self.calls: list[tuple[str, str, dict, Any]] = []
        self.orders, self.pages = dict(orders or {}), list(pages or [])
        self.post_error: Exception | None = None
        self.max_retries, self.backoff, self.max_backoff, self.stats = 2, 0.0, 0.0, {"retried": 0}
        self.sleep = lambda seconds: None

    def call(self, method, endpoint, *, params=None, json=None, retry_unknown=True):
        self.calls.append((method, endpoint, dict(params or {}), json))
        if method == "GET" and endpoint == "/orders":
            return self.pages.pop(0) if self.pages else _Response({"itemsPerPage": 100, "items": []})
        if method == "GET":
            order = self.orders.get(endpoint.split("/")[2])
            if order is None:
                raise MarketplaceRequestError(404, "Not Found", "no such order")
            return _Response(order)
        if self.post_error is not None:
            error, self.post_error = self.post_error, None
            raise error
        return _Response({}, status=201)


def test_every_field_the_channel_reads_is_documented(documented):
    reads: set[str] = set()
    channel = CdiscountChannel(None, sales_channel="SCID01")
    orders = [render(o) for o in _shipped_world().all_orders()]
    for wire in orders:
        channel.stage(Tracked(wire, reads))
        try:
            channel.parse(Tracked(wire, reads))
        except InvalidOrder:
            pass
    # and the order as read before a parcel is declared (lines, supply modes, parcels already sent)
    mine = next(o for o in orders if any(line["parcels"] for line in o["lines"]))
    hook = RecordingHook(orders={mine["orderId"]: Tracked(mine, reads)})
    CdiscountChannel(hook).confirm_shipment(_shipment(mine), "Colissimo", None)
    assert {"orderId", "purchasedAt", "lines.offer.supplyMode", "lines.totalPrice.sellingPrice",
            "lines.parcels.parcelNumber", "billingAddress.firstName"} <= {r.replace("[]", "") for r in reads}
    assert sorted(r for r in reads if not is_documented(r, documented)) == []


def test_the_channel_parses_every_sandbox_order_or_says_why():
    channel = CdiscountChannel(None, sales_channel="SCID01")
    seen = {"parsed": 0, "invalid": 0}
    for world in (_shipped_world(), _world(seed=3, orders_per_day=30), _world(seed=11)):
        for order in world.all_orders():
            try:
                parsed = channel.parse(render(order))
            except InvalidOrder as exc:
                reason = str(exc)
                seen["invalid"] += 1
                assert reason, "an InvalidOrder names its field"  # noqa: PT017 - every message checked, not one
                continue
            assert isinstance(parsed, MarketplaceOrder) and parsed.order_id == order["id"]
            seen["parsed"] += 1
    assert seen["parsed"] > 50 and seen["invalid"] >= 5


# -- listings -------------------------------------------------------------------------------------


@pytest.fixture
def octopia():
    """The sandbox app in process, a token, and a hook-like caller over it."""
    from fastapi.testclient import TestClient

    from ordersync.sandbox.app import create_app
    from ordersync.sandbox.world import World

    world = World(seed=1, days=1, orders_per_day=0, countries=("FR",), anchor=ANCHOR)
    cdiscount = CdiscountWorld(world.now, world.anchor, seed=5, days=3, orders_per_day=60)
    with TestClient(create_app(world, cdiscount_world=cdiscount)) as client:
        token = client.post("/octopia/auth/token", data={"grant_type": "client_credentials", "client_id": "sandbox-octopia-client",
                                                         "client_secret": "sandbox-octopia-secret"}).json()["access_token"]
        yield ClientHook(client, token), cdiscount


class ClientHook:
    """Calls the in-process sandbox the way OctopiaHook calls Octopia (errors as MarketplaceError)."""

    def __init__(self, client, token: str):
        self.client, self.token, self.calls = client, token, []

    def call(self, method, endpoint, *, params=None, json=None, retry_unknown=True):
        self.calls.append((method, endpoint, dict(params or {}), json))
        response = self.client.request(method, "/octopia" + endpoint, params=params, json=json,
                                       headers={"Authorization": f"Bearer {self.token}", "SellerId": "123456"})
        if response.status_code >= 500:
            raise MarketplaceUnavailable(response.text)
        if response.status_code >= 400:
            body = response.json()
            raise MarketplaceRequestError(response.status_code, body["title"], body["detail"])
        return response

    def get(self, **params):
        return self.client.get("/octopia/orders", params=params,
                               headers={"Authorization": f"Bearer {self.token}", "SellerId": "123456"})


def test_listing_answers_items_and_a_next_link_without_any_total(octopia):
    hook, _ = octopia
    first = hook.get(pageSize=10, sort="asc:updatedAt")
    assert first.status_code == 200 and set(first.json()) == {"itemsPerPage", "items"}
    assert len(first.json()["items"]) == 10 and "next" in first.links
    index, last = 1, first
    while "next" in last.links:
        index += 1
        query = dict(re.findall(r"([^?&=]+)=([^&]*)", last.links["next"]["url"]))
        assert query["pageIndex"] == str(index) and query["sort"] == "asc%3AupdatedAt"
        last = hook.client.get(last.links["next"]["url"], headers={"Authorization": f"Bearer {hook.token}", "SellerId": "123456"})
        assert set(last.json()) == {"itemsPerPage", "items"}
    assert "Link" not in last.headers and 0 < len(last.json()["items"]) <= 10


@pytest.mark.parametrize(("params", "field"), [({"pageSize": 101}, "pageSize"), ({"pageIndex": 0}, "pageIndex"),
                                           ({"sort": "updatedAt"}, "sort"), ({"updatedAtMin": "yesterday"}, "updatedAtMin")])
def test_listing_errors_are_problem_documents(octopia, params, field):
    hook, _ = octopia
    response = hook.get(**params)
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"title", "detail", "errors"} and isinstance(body["errors"], dict) and field in body["errors"]


def test_paging_over_more_than_100_orders_reads_every_page(octopia):
    """Octopia announces a next page by a link, never by a total: all pages are read."""
    hook, world = octopia
    channel = CdiscountChannel(hook, page_size=100, sales_channel="SCID01")
    window = Window(ANCHOR - timedelta(days=30), ANCHOR + timedelta(days=1))
    pages = list(channel.pages(window))
    listed = [o.order_id for page in pages for o in page]
    truth = [o["id"] for o in world.all_orders() if (o.get("group") or "SCID01") == "SCID01"]
    assert len(truth) > 150 and len(pages) == -(-len(truth) // 100)
    assert sorted(listed) == sorted(truth) and len(set(listed)) == len(listed)
    first, *later = [params for method, endpoint, params, _ in hook.calls if endpoint == "/orders"]
    assert "pageIndex" not in first and first["pageSize"] == 100 and first["sort"] == "asc:updatedAt"
    assert first["salesChannelId"] == "SCID01"
    assert [p["pageIndex"] for p in later] == [str(i) for i in range(2, len(pages) + 1)]
    # the fulfilment filter is the staged orders': Cdiscount's own warehouse orders apart
    theirs = [o for page in channel.pages(window, fulfilment=Fulfillment.MARKETPLACE) for o in page]
    assert theirs and {o.fulfillment for o in theirs} == {"MARKETPLACE"}
    ours = [o.order_id for page in channel.pages(window, fulfilment=Fulfillment.MERCHANT) for o in page]
    assert sorted(ours + [o.order_id for o in theirs]) == sorted(truth)


def _page(ids: list[str], per_page: int, next_index: int | None) -> _Response:
    items = [{"orderId": i, "updatedAt": "2026-11-20T10:00:00Z", "status": "InPreparation"} for i in ids]
    links = {"next": {"url": f"https://api.example/seller/v2/orders?pageIndex={next_index}&pageSize={per_page}", "rel": "next"}}
    return _Response({"itemsPerPage": per_page, "items": items}, links if next_index else None)


def test_paging_stops_on_the_last_link_or_a_short_page_and_never_loops():
    ids = [f"O{n:03d}" for n in range(250)]
    hook = RecordingHook(pages=[_page(ids[:100], 100, 2), _page(ids[100:200], 100, 3), _page(ids[200:], 100, None)])
    staged = [o.order_id for page in CdiscountChannel(hook)._listing({}) for o in page]
    assert staged == ids and len(hook.calls) == 3
    # a short page ends the listing even if a link follows; a full page without a link ends it too
    hook = RecordingHook(pages=[_page(ids[:40], 100, 2), _page(ids[40:80], 100, 3)])
    assert [o.order_id for page in CdiscountChannel(hook)._listing({}) for o in page] == ids[:40]
    hook = RecordingHook(pages=[_page(ids[:100], 100, None), _page(ids[100:200], 100, None)])
    assert len([o for page in CdiscountChannel(hook)._listing({}) for o in page]) == 100 and len(hook.calls) == 1
    # a server capping pages below the size asked is followed by its links, not cut short
    hook = RecordingHook(pages=[_page(ids[:50], 50, 2), _page(ids[50:100], 50, 3), _page(ids[100:120], 50, None)])
    assert len([o for page in CdiscountChannel(hook, page_size=100)._listing({}) for o in page]) == 120
    hook = RecordingHook(pages=[_page(ids[:100], 100, 2), _page(ids[100:200], 100, 2)])
    with pytest.raises(MarketplaceUnavailable, match="already read"):
        list(CdiscountChannel(hook)._listing({}))


# -- what the channel sends ------------------------------------------------------------------------


def _shipment(wire: dict, tracking: str = "6A100", lines: list[str] | None = None) -> Shipment:
    ids = lines if lines is not None else [line["lineId"] for line in wire["lines"]]
    return Shipment(order_id=wire["orderId"], package_ref="1", carrier="Colissimo", tracking_number=tracking,
                    ship_date=ANCHOR, items=tuple((i, 1) for i in ids))


def _order(supplies: tuple[str, ...] = ("Seller", "Seller"), parcels: tuple[str, ...] = ()) -> dict:
    line = {"status": "InPreparation", "quantity": 1, "totalPrice": {"sellingPrice": "10.00"}}
    return {"orderId": "SCID01X", "status": "InPreparation", "lines": [
        {**line, "lineId": f"L{n}", "offer": {"sellerProductId": "SKU", "supplyMode": supply},
         "parcels": [{"parcelNumber": p} for p in parcels]}
        for n, supply in enumerate(supplies)]}


def test_answers_send_the_reference_approval_body(reference):
    accepted = _example(reference, '{"approval_status"')
    hook = RecordingHook()
    order = MarketplaceOrder("cdiscount", "FR", "SCID01X", OrderStatus.WAITING_ACCEPTANCE, Fulfillment.MERCHANT, ANCHOR,
                             ANCHOR, "EUR", Decimal("1"), ())
    channel = CdiscountChannel(hook)
    channel.answer(order, "accept")
    channel.answer(order, "refuse")
    assert hook.calls == [("POST", "/orders/SCID01X/approval-status", {}, accepted),
                          ("POST", "/orders/SCID01X/approval-status", {}, {**accepted, "approval_status": "Refused"})]


def test_a_shipment_is_an_array_of_the_reference_parcels(reference):
    documented_parcel = _example(reference, '[{"parcelNumber"')
    assert isinstance(documented_parcel, list)
    keys = set(documented_parcel[0])
    hook = RecordingHook(orders={"SCID01X": _order(("Seller", "Seller"))})
    channel = CdiscountChannel(hook, tracking_url="https://track/{tracking_number}")
    channel.confirm_shipment(_shipment(_order()), "Colissimo", None)
    (_, _, _, body), = [c for c in hook.calls if c[0] == "POST"]
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) <= keys
    assert body[0] == {"parcelNumber": "6A100", "carrierName": "Colissimo", "trackingUrl": "https://track/6A100",
                       "orderLineIds": ["L0", "L1"]}
    assert hook.calls[0][:2] == ("GET", "/orders/SCID01X")  # the parcel is looked for before it is sent


def test_shipments_name_seller_lines_only_and_never_send_a_parcel_twice():
    hook = RecordingHook(orders={"SCID01X": _order(("Seller", "Fulfillment"))})
    CdiscountChannel(hook).confirm_shipment(_shipment(_order(("Seller", "Fulfillment"))), "Colissimo", None)
    assert [c[3] for c in hook.calls if c[0] == "POST"][0][0]["orderLineIds"] == ["L0"]
    with pytest.raises(MarketplaceRequestError, match="shipped by the seller"):
        CdiscountChannel(hook).confirm_shipment(_shipment(_order(), lines=["L1"]), "Colissimo", None)
    # already on the order (an attempt whose answer was lost): nothing is posted
    hook = RecordingHook(orders={"SCID01X": _order(parcels=("6A100",))})
    CdiscountChannel(hook).confirm_shipment(_shipment(_order()), "Colissimo", None)
    assert [c[0] for c in hook.calls] == ["GET"]
    assert CdiscountChannel(hook).package_confirmed(_shipment(_order()))
    assert not CdiscountChannel(hook).package_confirmed(_shipment(_order(), tracking="OTHER"))
    assert not CdiscountChannel(hook).package_confirmed(_shipment({**_order(), "orderId": "UNKNOWN"}))


def test_a_lost_shipment_answer_is_checked_on_the_order_before_any_resend():
    class Hook(RecordingHook):
        def call(self, method, endpoint, **kwargs):
            answer = super().call(method, endpoint, **kwargs)
            if method == "POST":  # Octopia took the parcel, then the answer was lost
                self.orders["SCID01X"] = _order(parcels=("6A100",))
                raise MarketplaceUnavailable("502 on the way back")
            return answer

    hook = Hook(orders={"SCID01X": _order()})
    CdiscountChannel(hook).confirm_shipment(_shipment(_order()), "Colissimo", None)
    assert [c[0] for c in hook.calls] == ["GET", "POST", "GET"]
    # a 409 (a duplicate refused) is also settled by finding the parcel
    hook = RecordingHook(orders={"SCID01X": _order()})
    hook.post_error = MarketplaceRequestError(409, "Conflict", "already declared")
    real_call = hook.call

    def call(method, endpoint, **kwargs):
        if method == "POST":
            hook.orders["SCID01X"] = _order(parcels=("6A100",))
        return real_call(method, endpoint, **kwargs)

    hook.call = call
    CdiscountChannel(hook).confirm_shipment(_shipment(_order()), "Colissimo", None)


def test_sandbox_takes_only_the_reference_bodies(octopia):
    hook, world = octopia
    waiting = next(o for o in world.all_orders() if o["status"] == "waiting" and o["group"] == "SCID01")
    for body in ({"status": "Accepted"}, {"approval_status": "Accepted", "orderLineIds": ["x"]}, {"approval_status": "Maybe"}):
        with pytest.raises(MarketplaceRequestError) as err:
            hook.call("POST", f"/orders/{waiting['id']}/approval-status", json=body)
        assert err.value.status == 400
    ready = next(o for o in world.all_orders() if o["status"] == "importable" and o["bad"] is None
                 and o["group"] == "SCID01" and all(line.get("supply", "Seller") == "Seller" for line in o["lines"]))
    line = ready["lines"][0]["id"]
    for body in ({"parcelNumber": "P1", "carrierName": "C", "orderLineIds": [line]},  # not an array
                 [{"parcelNumber": "P1", "carrierName": "C", "orderLineIds": [line], "externalReference": "1"}],
                 [{"parcelNumber": "P1", "carrierName": "C", "orderLineIds": []}]):
        with pytest.raises(MarketplaceRequestError) as err:
            hook.call("POST", f"/orders/{ready['id']}/shipments", json=body)
        assert err.value.status == 400
    hook.call("POST", f"/orders/{ready['id']}/shipments", json=[{"parcelNumber": "P1", "carrierName": "C", "orderLineIds": [line]}])
    with pytest.raises(MarketplaceRequestError) as err:  # the same parcel number again
        hook.call("POST", f"/orders/{ready['id']}/shipments", json=[{"parcelNumber": "P1", "carrierName": "C", "orderLineIds": [line]}])
    assert err.value.status == 409
    parcels = hook.call("GET", f"/orders/{ready['id']}").json()["lines"][0]["parcels"]
    assert parcels == [{"parcelNumber": "P1", "carrierName": "C", "trackingUrl": None}]


def test_orders_of_another_sales_channel_are_not_listed_nor_imported(octopia):
    hook, world = octopia
    channel = CdiscountChannel(hook, sales_channel="SCID01")
    other = [o["id"] for o in world.all_orders() if o["group"] != "SCID01"]
    assert other
    window = Window(ANCHOR - timedelta(days=30), ANCHOR + timedelta(days=1))
    assert not set(other) & {o.order_id for page in channel.pages(window) for o in page}
    staged, missing = channel.fetch([other[0], "NOPE"])
    assert missing == ["NOPE"]
    with pytest.raises(InvalidOrder, match=r"salesChannel\.id 'SCXX01' is not this entry's channel 'SCID01'"):
        channel.parse(staged[0].payload)
