"""End to end: the Cdiscount and Lengow DAGs run by Airflow (dag.test) against the sandbox.

Accept-first lifecycle over real HTTP: waiting orders are accepted (stock) or refused, accepted
ones are imported only once the marketplace releases them (sandbox clock moved past the delay),
acceptance moves no stock, refused ones are never imported, every answer and shipment is sent
once across reruns, bad payloads are set aside with a reason, and a Lengow shipment the
marketplace never acknowledges shows as not shipped.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from ordersync import demo, steps
from ordersync.config import load_config
from ordersync.operators import OrderSyncOperator
from ordersync.shop import schema as t
from ordersync.shop.store import ShopStore
from tests.e2e.test_amazon_dag import run_dag
from tests.helpers.sandbox import sandbox_connections

pytestmark = pytest.mark.e2e

CDISCOUNT_DAG = "ordersync_cdiscount_fr"
LENGOW_DAG = "ordersync_lengow_amazon_fr"


@pytest.fixture(scope="module")
def world(airflow_db, sandbox_server, tmp_path_factory):
    shop_path = tmp_path_factory.mktemp("shop") / "shop.db"
    url = sandbox_server.url
    env = {
        **{k: v for k, v in sandbox_connections(url).items() if k != "AIRFLOW_CONN_AMAZON_EU"},
        "AIRFLOW_CONN_ORDERSYNC_SHOP": {"conn_type": "sqlite", "host": str(shop_path)},
    }
    for key, value in env.items():
        os.environ[key] = json.dumps(value)
    for path in ("/reset", "/cdiscount/reset", "/lengow/reset"):
        sandbox_server.post_admin(path)
    store = ShopStore.from_url(f"sqlite:///{shop_path}")
    store.migrate()
    demo.seed_products(store)
    yield {"store": store, "sandbox": sandbox_server}
    sandbox_server.post_admin("/reset")  # the clock moved: give the Amazon tests a fresh world
    store.engine.dispose()
    for key in env:
        os.environ.pop(key, None)


def _rows(store, table, **where):
    tbl = t.metadata.tables[table]
    query = select(tbl)
    for key, value in where.items():
        query = query.where(tbl.c[key] == value)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def _sales(store, marketplace):
    with store.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT o.marketplace_order_id, m.reason FROM stock_moves m JOIN order_lines l ON l.id = m.order_line_id "
                "JOIN orders o ON o.id = l.order_id WHERE o.marketplace = :mp"
            ),
            {"mp": marketplace},
        ).all()


# -- Cdiscount ---------------------------------------------------------------------------------


def test_cdiscount_accept_then_import_after_the_delay(world):
    store, sandbox = world["store"], world["sandbox"]
    state, xcom = run_dag(datetime.now(timezone.utc), CDISCOUNT_DAG)
    assert state == "success"
    truth = {o["orderId"]: o for o in sandbox.get_admin("/cdiscount/orders")["orders"]}
    answered = {a["order_id"]: a for a in sandbox.get_admin("/cdiscount/actions")["actions"] if a["operation"] == "approval"}
    accepted = {i for i, a in answered.items() if a["approval_status"] == "Accepted"}
    refused = {i for i, a in answered.items() if a["approval_status"] == "Refused"}

    # lookup lists what accept will answer (ids, SKUs, quantities, stock; no buyer data)
    waiting = xcom["lookup"]["waiting_acceptance"]
    assert waiting and {w["order_id"] for w in waiting} == accepted | refused
    assert all(set(line) == {"sku", "quantity", "stock"} for w in waiting for line in w["lines"])
    assert "buyer" not in json.dumps(waiting) and "@" not in json.dumps(waiting)
    assert xcom["accept"]["accepted"] == len(accepted) > 0 and xcom["accept"]["refused"] == len(refused)
    # accepted orders are not importable yet: no shop order, no customer, no stock move
    imported = {r["marketplace_order_id"] for r in _rows(store, "orders", marketplace="cdiscount")}
    assert not (accepted | refused) & imported
    assert {o for o, _ in _sales(store, "cdiscount")} == imported
    in_prep = {i for i, o in truth.items() if o["status"] in ("InPreparation", "Shipped") and o["lines"] and all(l["quantity"] > 0 for l in o["lines"])}
    assert imported <= in_prep and imported
    # the seeded bad payloads are set aside with their reason
    reasons = {r["reason"] for r in _rows(store, "not_imported", marketplace="cdiscount")}
    assert {"invalid_payload", "invalid_value"} <= reasons
    messages = " ".join(r["message"] for r in _rows(store, "not_imported", marketplace="cdiscount"))
    assert "unknown order status" in messages and "lines is missing or empty" in messages
    assert "mixed fulfilment is not supported" in messages
    # Octopia's other states: still Processing waits visibly, orders Cdiscount ships itself are
    # skipped (import_fba off), orders of another sales channel are not even listed
    inbox = {r["marketplace_order_id"]: r for r in _rows(store, "inbox", marketplace="cdiscount")}
    processing = [i for i, o in truth.items() if o["status"] == "Processing"]
    assert processing and all(inbox[i]["state"] == "waiting" and "Processing" in inbox[i]["note"] for i in processing)
    theirs = [i for i, o in truth.items() if o["lines"] and all(l["offer"]["supplyMode"] != "Seller" for l in o["lines"])]
    assert theirs and all(inbox[i]["fulfillment"] == "MARKETPLACE" and inbox[i]["state"] == "skipped" for i in theirs)
    other = [i for i, o in truth.items() if o["salesChannel"]["id"] != "SCID01"]
    assert other and not set(other) & set(inbox) and not set(other) & set(answered)
    world["cd_accepted"], world["cd_refused"] = accepted, refused


def test_cdiscount_rerun_answers_nothing_twice_and_imports_released_orders(world):
    store, sandbox = world["store"], world["sandbox"]
    accepted, refused = world["cd_accepted"], world["cd_refused"]
    state, xcom = run_dag(datetime.now(timezone.utc), CDISCOUNT_DAG)  # before the delay: still nothing
    assert state == "success" and xcom["accept"]["accepted"] == xcom["accept"]["refused"] == 0
    assert not accepted & {r["marketplace_order_id"] for r in _rows(store, "orders", marketplace="cdiscount")}

    sandbox.post_admin("/clock", {"advance_seconds": 6 * 60})  # past the acceptance delay
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=1), CDISCOUNT_DAG)
    assert state == "success"
    imported = {r["marketplace_order_id"] for r in _rows(store, "orders", marketplace="cdiscount")}
    assert accepted <= imported and not refused & imported
    # one sale move per line of each newly imported order; none happened at acceptance
    sales = Counter(o for o, reason in _sales(store, "cdiscount") if reason == "sale")
    assert all(sales[o] >= 1 for o in accepted)
    # one answer per order, whatever the reruns
    approvals = Counter(a["order_id"] for a in sandbox.get_admin("/cdiscount/actions")["actions"] if a["operation"] == "approval" and a["accepted"])
    assert set(approvals.values()) == {1}
    assert len(_rows(store, "acceptances", marketplace="cdiscount")) == len(accepted | refused)

    # accept re-run by hand: nothing left to answer
    entry = load_config().entry("cdiscount_fr")
    counts = steps.accept(OrderSyncOperator.channel(entry), store, entry)
    assert counts["accepted"] == counts["refused"] == 0
    # a new order whose approval goes through but whose answer is lost (500): the hook retries,
    # Cdiscount says it is answered already, and the acceptance counts as sent, once
    product = next(p for p in _rows(store, "products") if p["stock"] >= 5)
    lost = sandbox.post_admin("/cdiscount/orders", {"status": "waiting", "lines": [{"sku": product["sku"], "quantity": 1}]})["order"]["orderId"]
    store.stage("cdiscount", "FR", OrderSyncOperator.channel(entry).fetch([lost])[0])
    sandbox.post_admin("/cdiscount/fail", {"operation": "approval", "status": 500, "count": 1, "after": True})
    counts = steps.accept(OrderSyncOperator.channel(entry), store, entry)
    assert counts["accepted"] == 1 and counts["failed"] == 0
    assert _rows(store, "acceptances", marketplace_order_id=lost)[0]["state"] == "sent"
    world["lost_sku"] = product["sku"]
    approvals = Counter(a["order_id"] for a in sandbox.get_admin("/cdiscount/actions")["actions"] if a["operation"] == "approval" and a["accepted"])
    assert set(approvals.values()) == {1}


def test_cdiscount_new_order_refused_and_cancelled_order_restores_stock(world):
    store, sandbox = world["store"], world["sandbox"]
    entry = load_config().entry("cdiscount_fr")
    product = next(p for p in _rows(store, "products") if p["stock"] >= 3 and p["sku"] != world.get("lost_sku"))
    ok = sandbox.post_admin("/cdiscount/orders", {"status": "waiting", "lines": [{"sku": product["sku"], "quantity": 1}]})["order"]["orderId"]
    short = sandbox.post_admin(
        "/cdiscount/orders", {"status": "waiting", "lines": [{"sku": product["sku"], "quantity": product["stock"] + 50}]}
    )["order"]["orderId"]
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=1), CDISCOUNT_DAG)
    assert state == "success"
    decisions = {r["marketplace_order_id"]: r for r in _rows(store, "acceptances", marketplace="cdiscount")}
    assert decisions[ok]["decision"] == "accept" and decisions[short]["decision"] == "refuse"
    assert "in stock" in decisions[short]["reason"]
    before = {p["sku"]: p["stock"] for p in _rows(store, "products")}[product["sku"]]
    sandbox.post_admin("/clock", {"advance_seconds": 6 * 60})
    run_dag(datetime.now(timezone.utc) + timedelta(hours=1), CDISCOUNT_DAG)
    after_import = {p["sku"]: p["stock"] for p in _rows(store, "products")}[product["sku"]]
    assert after_import == before - 1  # the sale happened at import, not at acceptance
    # the buyer cancels: the imported order is cancelled in the shop, the unit comes back
    sandbox.post_admin(f"/cdiscount/orders/{ok}", {"status": "cancelled"})
    run_dag(datetime.now(timezone.utc) + timedelta(hours=1), CDISCOUNT_DAG)
    order = _rows(store, "orders", marketplace="cdiscount", marketplace_order_id=ok)[0]
    assert order["status"] == entry.cancelled_status
    assert {p["sku"]: p["stock"] for p in _rows(store, "products")}[product["sku"]] == before
    assert not _rows(store, "orders", marketplace="cdiscount", marketplace_order_id=short)


def test_cdiscount_shipments_sent_once_per_parcel(world):
    store, sandbox = world["store"], world["sandbox"]
    entry = load_config().entry("cdiscount_fr")
    with store.engine.begin() as conn:  # the warehouse ships InPreparation orders only
        conn.execute(
            t.orders.update()
            .where(t.orders.c.marketplace == "cdiscount", t.orders.c.marketplace_status != "UNSHIPPED")
            .values(status="delivered_elsewhere")
        )
    shipped = demo.ship_orders(store, entry, 3, carrier="colissimo")
    assert len(shipped) == 3
    # the first parcel is declared but its answer is lost: the retry finds it, no second parcel
    sandbox.post_admin("/cdiscount/fail", {"operation": "shipments", "status": 502, "count": 1, "after": True})
    for _ in range(2):
        state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=1), CDISCOUNT_DAG)
        assert state == "success"
    parcels = [a for a in sandbox.get_admin("/cdiscount/actions")["actions"] if a["operation"] == "shipment"]
    assert Counter(p["order_id"] for p in parcels) == Counter(shipped)
    assert all(p["accepted"] and p["carrierName"] == "Colissimo" and p["parcelNumber"] in p["trackingUrl"] and p["orderLineIds"]
               for p in parcels)


# -- Lengow -----------------------------------------------------------------------------------


def test_lengow_accept_import_and_actions_sent_once(world):
    store, sandbox = world["store"], world["sandbox"]
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=1), LENGOW_DAG)
    assert state == "success"
    posted = [a for a in sandbox.get_admin("/lengow/actions")["actions"] if a["accepted"]]
    answers = {a["order_id"]: a["operation"] for a in posted if a["operation"] in ("accept", "refuse")}
    accepted = {o for o, kind in answers.items() if kind == "accept"}
    refused = {o for o, kind in answers.items() if kind == "refuse"}
    assert accepted and xcom["accept"]["accepted"] == len(accepted) and xcom["accept"]["refused"] == len(refused)
    truth = {o["marketplace_order_id"]: o for o in sandbox.get_admin("/lengow/orders")["orders"]}
    assert all(truth[o]["marketplace"] == "amazon_fr" for o in answers)  # only this entry's marketplace
    imported = {r["marketplace_order_id"] for r in _rows(store, "orders", marketplace="lengow")}
    assert not accepted & imported
    assert all(truth[o]["lengow_status"] in ("waiting_shipment", "shipped", "closed", "partial_refunded", "canceled") for o in imported)
    never = {o for o, w in truth.items() if w["lengow_status"] in ("canceled", "refunded", "refused")}
    assert not never & imported

    # actions are acknowledged after 2 min, accepted orders released 5 min later
    sandbox.post_admin("/clock", {"advance_seconds": 10 * 60})
    for _ in range(2):
        state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=1), LENGOW_DAG)
        assert state == "success"
    imported = {r["marketplace_order_id"] for r in _rows(store, "orders", marketplace="lengow")}
    assert accepted <= imported and not refused & imported
    posted = [a for a in sandbox.get_admin("/lengow/actions")["actions"] if a["accepted"]]
    assert set(Counter((a["order_id"], a["operation"]) for a in posted).values()) == {1}
    reasons = {r["reason"] for r in _rows(store, "not_imported", marketplace="lengow")}
    assert {"invalid_payload", "invalid_value"} <= reasons

    # the shapes of real Lengow orders: no order date (imported_at instead), lines whose SKU is
    # the marketplace's product id, an unknown total (-1), orders still "new", a marketplace-
    # fulfilled order that the shop never ships nor takes stock for
    mine = {i: o for i, o in truth.items() if o["marketplace"] == "amazon_fr"}
    inbox = {r["marketplace_order_id"]: r for r in _rows(store, "inbox", marketplace="lengow")}
    undated = {i for i, o in mine.items() if o["marketplace_order_date"] is None and o["lengow_status"] == "waiting_shipment"}
    by_product_id = {i for i, o in mine.items() if o["lengow_status"] == "waiting_shipment"
                     and all(c["merchant_product_id"]["id"] is None for p in o["packages"] for c in p["cart"])}
    unknown_total = {i for i, o in mine.items() if o["total_order"] == -1}
    assert undated & imported and by_product_id & imported and unknown_total and unknown_total <= imported
    for order_id in unknown_total:
        shop = _rows(store, "orders", marketplace="lengow", marketplace_order_id=order_id)[0]
        lines = sum(Decimal(c["amount"]) for p in mine[order_id]["packages"] for c in p["cart"])
        assert Decimal(str(shop["total"])) == lines + Decimal(mine[order_id]["shipping"] or "0")
    new = {i for i, o in mine.items() if o["lengow_status"] == "new"}
    assert new and not new & imported and {inbox[i]["state"] for i in new} == {"waiting"}
    delivered = {i for i, o in mine.items() if o.get("order_types")}
    assert delivered and not delivered & imported
    assert {inbox[i]["fulfillment"] for i in delivered} == {"MARKETPLACE"} and {inbox[i]["state"] for i in delivered} == {"skipped"}


def test_lengow_unacknowledged_shipment_shows_as_not_shipped(world):
    store, sandbox = world["store"], world["sandbox"]
    entry = load_config().entry("lengow_amazon_fr")
    shipped = demo.ship_orders(store, entry, 2, carrier="chronopost")
    assert len(shipped) == 2
    sandbox.post_admin(f"/lengow/orders/{shipped[1]}", {"no_ack": True})
    # the first ship action is queued but its answer is lost: the queue is read before any resend
    sandbox.post_admin("/lengow/fail", {"operation": "action:ship", "status": 500, "count": 1, "after": True})
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=1), LENGOW_DAG)
    assert state == "success" and xcom["fulfillment"]["confirmed"] == 2
    sandbox.post_admin("/clock", {"advance_seconds": 31 * 60})  # past Lengow's acknowledgement delay
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=2), LENGOW_DAG)
    assert xcom["fulfillment"]["acknowledged"] == 1 and xcom["fulfillment"]["not_acknowledged"] == 1
    with store.engine.connect() as conn:
        not_shipped = conn.execute(text("SELECT marketplace_order_id, message FROM v_not_shipped WHERE marketplace = 'lengow'")).all()
    assert [r.marketplace_order_id for r in not_shipped] == [shipped[1]] and "not acknowledged" in not_shipped[0].message
    # amazon_fr ships one line per action: one action per line of each order, never repeated by
    # the reruns, with amazon_fr's carrier code for the shop's chronopost
    posted = [a for a in sandbox.get_admin("/lengow/actions")["actions"] if a["operation"] == "ship" and a["accepted"]]
    ships = Counter((a["order_id"], a["line"]) for a in posted)
    truth = {o["marketplace_order_id"]: o for o in sandbox.get_admin("/lengow/orders")["orders"]}
    lines = {(i, c["marketplace_order_line_id"]) for i in shipped for p in truth[i]["packages"] for c in p["cart"]}
    assert set(ships) == lines and set(ships.values()) == {1}
    assert {a["body"]["carrier"] for a in posted} == {"CHRONOPOST"}

    # a carrier amazon_fr does not know: refused before anything is sent, shown as not shipped
    (third,) = demo.ship_orders(store, entry, 1, carrier="pigeon post")
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=2), LENGOW_DAG)
    assert state == "success" and xcom["fulfillment"]["rejected"] == 1
    with store.engine.connect() as conn:
        message = conn.execute(text("SELECT message FROM v_not_shipped WHERE marketplace_order_id = :o"), {"o": third}).scalar()
    assert "carrier" in message and "amazon_fr" in message and "carrier_map" in message
    assert not [a for a in sandbox.get_admin("/lengow/actions", orderId=third)["actions"] if a["operation"] == "ship"]


def test_manual_refuse_and_accept_through_steps(world):
    store, sandbox = world["store"], world["sandbox"]
    entry = load_config().entry("cdiscount_fr")
    missing = "OS-LAMP-BRASS"  # not in the shop: the stock rule would refuse it
    order_id = sandbox.post_admin("/cdiscount/orders", {"status": "waiting", "lines": [{"sku": missing, "quantity": 1}]})["order"]["orderId"]
    channel = OrderSyncOperator.channel(entry)
    counts = steps.manual_action(channel, store, entry, "accept", [order_id])
    assert counts["accepted"] == 1
    # answered already (the marketplace now shows it Accepted): nothing is sent
    counts = steps.manual_action(channel, store, entry, "refuse", [order_id])
    assert counts["refused"] == 0 and counts["not_waiting"] == 1
    approvals = [a for a in sandbox.get_admin("/cdiscount/actions", orderId=order_id)["actions"] if a["operation"] == "approval"]
    assert [a["approval_status"] for a in approvals] == ["Accepted"]

    # the same through Airflow: the ordersync_actions trigger form refuses a waiting order
    other = sandbox.post_admin("/cdiscount/orders", {"status": "waiting", "lines": [{"sku": missing, "quantity": 1}]})["order"]["orderId"]
    state, xcom = run_dag(
        datetime.now(timezone.utc), "ordersync_actions", {"entry": "cdiscount_fr", "action": "refuse", "order_ids": [other]}
    )
    assert state == "success" and xcom["action"]["refused"] == 1
    approvals = [a for a in sandbox.get_admin("/cdiscount/actions", orderId=other)["actions"] if a["operation"] == "approval"]
    assert [a["approval_status"] for a in approvals] == ["Refused"]


def test_lengow_answer_not_acknowledged_is_reported_and_can_be_sent_again(world):
    store, sandbox = world["store"], world["sandbox"]
    entry = load_config().entry("lengow_amazon_fr")
    product = next(p for p in _rows(store, "products") if p["stock"] >= 3)
    order_id = sandbox.post_admin(
        "/lengow/orders", {"status": "waiting", "group": "amazon_fr", "lines": [{"sku": product["sku"], "quantity": 1}]}
    )["order"]["marketplace_order_id"]
    sandbox.post_admin(f"/lengow/orders/{order_id}", {"no_ack": True})
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=3), LENGOW_DAG)
    assert state == "success" and _rows(store, "acceptances", marketplace_order_id=order_id)[0]["state"] == "sent"
    sandbox.post_admin("/clock", {"advance_seconds": 31 * 60})
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=3), LENGOW_DAG)
    assert xcom["accept"]["not_acknowledged"] == 1
    row = _rows(store, "acceptances", marketplace_order_id=order_id)[0]
    assert row["state"] == "rejected" and "not acknowledged" in row["message"]
    # a scheduled run does not answer again; the merchant's manual accept does, once
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=3), LENGOW_DAG)
    assert xcom["accept"]["accepted"] == 0
    counts = steps.manual_action(OrderSyncOperator.channel(entry), store, entry, "accept", [order_id])
    assert counts["accepted"] == 1
    sent = [a for a in sandbox.get_admin("/lengow/actions", orderId=order_id)["actions"] if a["accepted"]]
    assert [a["operation"] for a in sent] == ["accept", "accept"]


def test_lengow_manual_cancel_cancels_the_shop_order_once(world):
    store, sandbox = world["store"], world["sandbox"]
    entry = load_config().entry("lengow_amazon_fr")
    order = next(
        r for r in _rows(store, "orders", marketplace="lengow", marketplace_status="UNSHIPPED") if r["cancelled_at"] is None
    )
    oid = order["marketplace_order_id"]
    channel = OrderSyncOperator.channel(entry)
    for _ in range(2):
        assert steps.manual_action(channel, store, entry, "cancel", [oid])["cancel_requested"] == 1
    sandbox.post_admin("/clock", {"advance_seconds": 3 * 60})  # acknowledged by the marketplace
    state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=3), LENGOW_DAG)
    assert state == "success" and xcom["import"]["cancelled"] == 1
    assert _rows(store, "orders", marketplace="lengow", marketplace_order_id=oid)[0]["status"] == entry.cancelled_status
    cancels = [a for a in sandbox.get_admin("/lengow/actions", orderId=oid)["actions"] if a["operation"] == "cancel"]
    assert len(cancels) == 1


def test_an_order_listed_late_still_gets_its_answer(world):
    """Lookup also lists every order waiting for acceptance, whatever its dates: an order whose
    last update is two days older than the run's window is answered by the next run."""
    store, sandbox = world["store"], world["sandbox"]
    sku = next(p["sku"] for p in _rows(store, "products") if p["stock"] >= 5)
    two_days_ago = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()
    late = {
        "cdiscount": sandbox.post_admin("/cdiscount/orders", {"status": "waiting", "created": two_days_ago,
                                                              "lines": [{"sku": sku, "quantity": 1}]})["order"]["orderId"],
        "lengow": sandbox.post_admin("/lengow/orders", {"status": "waiting", "created": two_days_ago, "group": "amazon_fr",
                                                        "lines": [{"sku": sku, "quantity": 1}]})["order"]["marketplace_order_id"],
    }
    for marketplace, dag_id in (("cdiscount", CDISCOUNT_DAG), ("lengow", LENGOW_DAG)):
        state, xcom = run_dag(datetime.now(timezone.utc) + timedelta(hours=3), dag_id)
        assert state == "success" and xcom["lookup"]["waiting_listed"] >= 1
        assert late[marketplace] in {w["order_id"] for w in xcom["lookup"]["waiting_acceptance"]}
        row = _rows(store, "acceptances", marketplace=marketplace, marketplace_order_id=late[marketplace])
        assert [r["decision"] for r in row] == ["accept"]
