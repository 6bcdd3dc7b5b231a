"""The Lengow adapter and sandbox against real Lengow payloads (``../shared/reference/lengow``:
Lengow's own plugin fixtures and its published OpenAPI).

- every reference order goes through the real import step: it is imported, waits, or is set
  aside with a reason, never an exception; the reference order itself parses (date from
  ``imported_at``, SKU from ``marketplace_product_id``);
- the sandbox answers with the reference's shapes: orders, action rows, action pages, token,
  error envelope, marketplaces;
- actions follow ``lengow_marketplaces.json``: one per line where ``line`` is a required argument
  (menlook: ``line`` and ``carrier``), one per order elsewhere.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ordersync import steps
from ordersync.channels.lengow import STATUSES, LengowChannel
from ordersync.config import Entry
from ordersync.errors import MarketplaceRequestError, UnsupportedAction
from ordersync.model import Shipment
from ordersync.shop.store import ShopStore
from tests.helpers.lengow_fake import FakeLengowHook, reference

ORDERS = "lengow_orders_list_simple_order.json"
MARKETPLACES = "lengow_marketplaces.json"


def _keys(value) -> set[str]:
    return set(value) if isinstance(value, dict) else set()


@pytest.fixture
def shop(tmp_path):
    store = ShopStore.from_url(f"sqlite:///{tmp_path / 'shop.db'}")
    store.migrate()
    yield store
    store.engine.dispose()


def _entry(marketplace: str) -> Entry:
    return Entry(marketplace="lengow", country="FR", conn_id="lengow", lengow_marketplace=marketplace)


# -- reference orders through the import step --------------------------------------------------


def test_the_reference_order_parses():
    (raw,) = reference(ORDERS)["results"]
    parsed = LengowChannel(None, raw["marketplace"], "FR").parse(raw)
    assert raw["marketplace_order_date"] is None
    assert parsed.purchase_date == datetime.fromisoformat(raw["imported_at"].replace("Z", "+00:00"))
    (line,) = parsed.lines
    assert raw["packages"][0]["cart"][0]["merchant_product_id"]["id"] is None
    assert line.sku == raw["packages"][0]["cart"][0]["marketplace_product_id"] == "2"
    assert parsed.total == Decimal(raw["total_order"]) and parsed.status.value == "AWAITING_RELEASE"
    assert parsed.ship_to.city == raw["packages"][0]["delivery"]["city"]


def _variants(raw: dict) -> list[dict]:
    """The reference order in every Lengow status, with the nulls and -1 real orders carry."""
    out = []
    for n, status in enumerate(STATUSES):
        variant = copy.deepcopy(raw)
        variant["marketplace_order_id"] = f"{raw['marketplace_order_id']}-{status}"
        variant["lengow_status"] = status
        if n % 2:
            variant["total_order"] = -1
        if n % 3 == 0:
            variant["order_types"] = [{"type": "is_delivered_by_marketplace"}]
        out.append(variant)
    broken = copy.deepcopy(raw)
    broken.update(marketplace_order_id="BROKEN", marketplace_order_date=None, imported_at=None, lengow_status="waiting_shipment")
    unknown = copy.deepcopy(raw)
    unknown.update(marketplace_order_id="UNKNOWN", lengow_status="somewhere_else")
    return [*out, broken, unknown]


def test_every_reference_order_is_imported_waits_or_is_set_aside_with_a_reason(shop):
    body = reference(ORDERS)
    raw = body["results"][0]
    orders = [*body["results"], *_variants(raw)]
    channel = LengowChannel(None, raw["marketplace"], "FR")
    entry = _entry(raw["marketplace"])
    shop.add_products([{"sku": "2", "name": "reference product", "price": "229.00", "stock": 10}])
    shop.stage("lengow", "FR", [channel.stage(o) for o in orders])
    counts = steps.import_orders(channel, shop, entry)  # never raises
    settled = counts["imported"] + counts["waiting"] + counts["skipped"] + counts["not_imported"]
    assert settled == len(orders)
    with shop.engine.connect() as conn:
        from sqlalchemy import select

        from ordersync.shop import schema as t

        imported = set(conn.execute(select(t.orders.c.marketplace_order_id)).scalars())
        rejected = dict(conn.execute(select(t.not_imported.c.marketplace_order_id, t.not_imported.c.message)).all())
        states = dict(conn.execute(select(t.inbox.c.marketplace_order_id, t.inbox.c.state)).all())
    rid = raw["marketplace_order_id"]
    assert states[rid] == "waiting"  # "accepted": the marketplace has not released it yet
    merchant = {f"{rid}-{s}" for s, status in STATUSES.items() if status.value in ("UNSHIPPED", "SHIPPED")}
    merchant -= {f"{rid}-{s}" for n, s in enumerate(STATUSES) if n % 3 == 0}  # marketplace-delivered: not imported
    assert imported == merchant
    assert "marketplace_order_date and imported_at" in rejected["BROKEN"]
    assert "unknown lengow_status 'somewhere_else'" in rejected["UNKNOWN"]
    assert set(rejected) == {"BROKEN", "UNKNOWN"}
    with shop.engine.connect() as conn:
        totals = {r.marketplace_order_id: r.total for r in conn.execute(select(t.orders.c.marketplace_order_id, t.orders.c.total))}
    assert set(totals.values()) == {Decimal("229.00")}  # -1 computed from the lines


# -- actions from lengow_marketplaces.json ------------------------------------------------------


def _order(marketplace: str, lines: int = 2) -> dict:
    (raw,) = copy.deepcopy(reference(ORDERS)["results"])
    cart = raw["packages"][0]["cart"]
    raw["packages"][0]["cart"] = [{**cart[0], "marketplace_order_line_id": f"L{n}"} for n in range(1, lines + 1)]
    raw.update(marketplace=marketplace, lengow_status="waiting_shipment")
    return raw


def _ship(order_id: str, lines=("L1", "L2"), tracking: str = "TRK") -> Shipment:
    return Shipment(order_id, "1", "LAPOSTE", tracking, datetime(2026, 1, 2, tzinfo=UTC), tuple((line, 1) for line in lines))


def test_menlook_requires_line_and_carrier_so_each_line_gets_its_ship_action():
    markets = reference(MARKETPLACES)
    assert markets["menlook"]["orders"]["actions"]["ship"]["args"] == ["line", "carrier"]
    raw = _order("menlook")
    fake = FakeLengowHook(marketplaces=markets, orders=[raw])
    channel = LengowChannel(fake, "menlook", "FR")
    channel.confirm_shipment(_ship(raw["marketplace_order_id"]), "Other", "Mondial Relay")  # matched on the label
    posts = fake.posts()
    assert [p["line"] for p in posts] == ["L1", "L2"] and {p["carrier"] for p in posts} == {"MONDIALRELAY"}
    assert {p["tracking_number"] for p in posts} == {"TRK"}
    assert channel.package_confirmed(_parcel(raw["marketplace_order_id"]))
    # a carrier menlook does not list: refused before anything is sent
    fake = FakeLengowHook(marketplaces=markets)
    with pytest.raises(MarketplaceRequestError) as err:
        LengowChannel(fake, "menlook", "FR").confirm_shipment(_ship("X"), "Other", "Chronopost")
    assert err.value.code == "missing_argument" and "menlook" in err.value.message and fake.posts() == []
    # and it answers per line too
    fake = FakeLengowHook(marketplaces=markets, orders=[raw])
    channel = LengowChannel(fake, "menlook", "FR")
    channel.answer(channel.parse(raw), "refuse")
    assert [(p["action_type"], p["line"]) for p in fake.posts()] == [("refuse", "L1"), ("refuse", "L2")]
    with pytest.raises(UnsupportedAction):
        channel.cancel(raw["marketplace_order_id"])  # menlook has no cancel action


@pytest.mark.parametrize(("marketplace", "carrier"), [("galeries_lafayette", "CHRONOPOST"), ("cdiscount", "chronopost"), ("darty", "chronopost")])
def test_marketplaces_without_required_line_get_one_action_per_order(marketplace, carrier):
    markets = reference(MARKETPLACES)
    spec = markets[marketplace]["orders"]["actions"]["ship"]
    assert "line" not in spec["args"] and spec["args"] == ["tracking_number"]
    fake = FakeLengowHook(marketplaces=markets)
    LengowChannel(fake, marketplace, "FR").confirm_shipment(_ship("O"), "chronopost", None)
    (post,) = fake.posts()
    assert "line" not in post and post["tracking_number"] == "TRK"
    assert post["carrier"] == carrier  # a code of the list, or the shop's name where there is none


def test_reference_action_rows_count_as_sent_and_acknowledged():
    queued = reference("lengow_actions_list_queued.json")["results"]
    processed = reference("lengow_action_processed.json")
    markets = reference(MARKETPLACES)
    order_id = queued[0]["marketplace_order_id"]
    fake = FakeLengowHook(marketplaces=markets, actions=copy.deepcopy(queued))
    channel = LengowChannel(fake, "galeries_lafayette", "FR")
    assert queued[0]["errors"] == "" and channel.package_confirmed(_parcel(order_id))  # "" is no error
    channel.confirm_shipment(_ship(order_id, tracking=queued[0]["tracking_number"]), "LAPOSTE", None)
    assert fake.posts() == []  # Lengow holds this parcel already
    channel.confirm_shipment(_ship(order_id, tracking="ANOTHER-PARCEL"), "LAPOSTE", None)
    assert [p["tracking_number"] for p in fake.posts()] == ["ANOTHER-PARCEL"]  # a second parcel does go
    assert channel.acknowledgements([order_id]) == ([], {})  # queued, not processed
    fake.actions = [copy.deepcopy(processed)]
    assert channel.acknowledgements([processed["marketplace_order_id"]]) == ([processed["marketplace_order_id"]], {})


# -- the sandbox speaks the reference's shapes -------------------------------------------------


@pytest.fixture
def sandbox():
    from fastapi.testclient import TestClient

    from ordersync.sandbox.app import create_app
    from ordersync.sandbox.world import World

    world = World(seed=3, days=3, orders_per_day=1, countries=["FR"])
    with TestClient(create_app(world)) as client:
        token = client.post("/lengow/access/get_token",
                            data={"access_token": "sandbox-lengow-access", "secret": "sandbox-lengow-secret"})
        client.token_answer = token
        client.headers["Authorization"] = token.json()["token"]
        yield client


def test_sandbox_token_and_errors_have_the_reference_shapes(sandbox):
    assert sandbox.token_answer.status_code == 200
    assert _keys(sandbox.token_answer.json()) == _keys(reference("lengow_get_token_200.json"))  # no expires_in
    bad = sandbox.post("/lengow/access/get_token", data={"access_token": "sandbox-lengow-access", "secret": "wrong"})
    envelope = reference("lengow_get_token_400.json")
    assert bad.status_code == 400 and _keys(bad.json()) == _keys(envelope)
    assert _keys(bad.json()["error"]) == _keys(envelope["error"]) and bad.json()["error"]["code"] == 400
    sandbox.post("/_admin/lengow/tokens/expire")
    expired = sandbox.get("/lengow/v3.0/orders", params={"account_id": 4321})
    reference_403 = reference("lengow_me_403_expired.json")
    assert expired.status_code == 403 == reference_403["error"]["code"]
    assert _keys(expired.json()) == _keys(reference_403) and expired.json()["error"]["code"] == 403
    assert "expired" in expired.json()["error"]["message"]
    unknown = sandbox.get("/lengow/v3.0/orders", params={"account_id": 4321}, headers={"Authorization": "nope"})
    assert _keys(unknown.json()) == {"error"} and unknown.status_code == 401


def _sandbox_orders(sandbox) -> list[dict]:
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    out, page = [], 1
    while True:
        body = sandbox.get("/lengow/v3.0/orders", params={"account_id": 4321, "updated_from": since, "page": page,
                                                          "page_size": 100}).json()
        assert _keys(body) == _keys(reference(ORDERS))
        out += body["results"]
        if not body["next"]:
            return out
        page += 1


def test_sandbox_orders_have_the_reference_keys(sandbox):
    (ref,) = reference(ORDERS)["results"]
    cart, delivery = ref["packages"][0]["cart"][0], ref["packages"][0]["delivery"]
    orders = _sandbox_orders(sandbox)
    assert orders
    for raw in orders:
        extra = {"order_types"} if raw.get("order_types") else set()
        assert _keys(raw) == _keys(ref) | extra, raw["marketplace_order_id"]
        assert _keys(raw["currency"]) == _keys(ref["currency"])
        assert _keys(raw["billing_address"]) == _keys(ref["billing_address"])
        assert all(_keys(p) == _keys(ref["payments"][0]) for p in raw["payments"])
        for package in raw["packages"]:
            assert _keys(package) == _keys(ref["packages"][0]) and _keys(package["delivery"]) == _keys(delivery)
            assert all(_keys(item) == _keys(cart) and _keys(item["merchant_product_id"]) == _keys(cart["merchant_product_id"])
                       for item in package["cart"])
    # what real orders carry, and what the adapter must cope with, is all there
    assert any(o["marketplace_order_date"] is None for o in orders)
    assert any(c["merchant_product_id"]["id"] is None for o in orders for p in o["packages"] for c in p["cart"])
    assert any(o["total_order"] == -1 for o in orders) and any(o["shipping"] is None for o in orders)
    assert any(o["lengow_status"] == "new" for o in orders)
    delivered = [o for o in orders if o.get("order_types")]
    assert delivered and all(o["order_types"] == [{"type": "is_delivered_by_marketplace"}] for o in delivered)


def test_sandbox_marketplaces_have_the_reference_shape(sandbox):
    ref = reference(MARKETPLACES)
    some = next(iter(ref.values()))
    body = sandbox.get("/lengow/v3.0/marketplaces", params={"account_id": 4321}).json()
    assert set(body) == {"amazon_fr", "cdiscount"}
    for market in body.values():
        assert _keys(market) == _keys(some) and _keys(market["orders"]) == _keys(some["orders"])
        assert set(market["orders"]["status"]) <= set(STATUSES)
        for spec in market["orders"]["actions"].values():
            assert _keys(spec) == _keys(some["orders"]["actions"]["ship"])
        assert all(_keys(c) == {"label"} for c in market["orders"]["carriers"].values())
    assert "line" in body["amazon_fr"]["orders"]["actions"]["ship"]["args"]  # per-line shipping, end to end
    assert "line" not in body["cdiscount"]["orders"]["actions"]["ship"]["args"]


def test_sandbox_action_rows_have_the_reference_keys(sandbox):
    orders = [o for o in _sandbox_orders(sandbox) if o["marketplace"] == "amazon_fr"]
    ready = next(o for o in orders if o["lengow_status"] == "waiting_shipment" and o["packages"][0]["cart"]
                 and not o.get("order_types"))
    waiting = next(o for o in orders if o["lengow_status"] == "waiting_acceptance")
    line = ready["packages"][0]["cart"][0]["marketplace_order_line_id"]
    base = {"account_id": 4321, "marketplace": "amazon_fr", "marketplace_order_id": ready["marketplace_order_id"]}
    # JSON, and form-encoded as Lengow's plugins send it
    ship = sandbox.post("/lengow/v3.0/orders/actions/",
                        json={**base, "action_type": "ship", "line": line, "carrier": "GLS", "tracking_number": "T"})
    assert ship.status_code == 201, ship.text
    assert _keys(ship.json()) == _keys(reference("lengow_action_post_ship_response.json"))
    assert ship.json()["errors"] == "" and ship.json()["line"] == line and ship.json()["queued"] is False
    cancel = sandbox.post("/lengow/v3.0/orders/actions/", data={**base, "action_type": "cancel"})
    assert cancel.status_code == 201, cancel.text
    assert _keys(cancel.json()) == _keys(reference("lengow_action_post_cancel_response.json"))
    page = sandbox.get("/lengow/v3.0/orders/actions/", params={"account_id": 4321, "marketplace_order_id": ready["marketplace_order_id"],
                                                               "action_type": "ship"}).json()
    listed = reference("lengow_actions_list_queued.json")
    assert _keys(page) == _keys(listed) and page["count"] == 1
    assert _keys(page["results"][0]) == _keys(listed["results"][0]) == _keys(reference("lengow_action_processed.json"))
    assert page["results"][0]["queued"] is True and page["results"][0]["errors"] == ""
    # refusals come in Lengow's envelope
    refused = sandbox.post("/lengow/v3.0/orders/actions/", json={**base, "action_type": "ship", "tracking_number": "T"})
    assert refused.status_code == 400 and _keys(refused.json()) == {"error"}
    assert "line" in refused.json()["error"]["message"] and refused.json()["error"]["code"] == 400
    accept = sandbox.post("/lengow/v3.0/orders/actions/",
                          json={**base, "marketplace_order_id": waiting["marketplace_order_id"], "action_type": "accept"})
    assert accept.status_code == 201 and _keys(accept.json()) == _keys(reference("lengow_action_post_cancel_response.json"))


def _parcel(order_id: str):
    from ordersync.model import Shipment

    return Shipment(order_id=order_id, package_ref="1", carrier="LAPOSTE", tracking_number="tototo",
                    ship_date=datetime(2026, 1, 1, tzinfo=UTC))
