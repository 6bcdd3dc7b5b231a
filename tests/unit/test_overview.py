"""What the Order sync page reads (ordersync.overview), on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from sqlalchemy import insert

from ordersync.overview import entry_overview, latest_reconciliation_html
from ordersync.shop import schema as t

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc)
AMAZON = SimpleNamespace(key="amazon_it", dag_id="ordersync_amazon_it", marketplace="amazon", country="IT")
CDISCOUNT = SimpleNamespace(key="cdiscount_fr", dag_id="ordersync_cdiscount_fr", marketplace="cdiscount", country="FR")


def _inbox(mp, country, order_id, status, state, buyer):
    return {"marketplace": mp, "country": country, "marketplace_order_id": order_id, "marketplace_status": status,
            "fulfillment": "MERCHANT", "marketplace_updated_at": NOW, "payload": "{}", "state": state,
            "buyer_name": buyer, "purchase_date": NOW - timedelta(days=1), "total": 19.9, "currency": "EUR",
            "batch": "b", "first_seen_at": NOW, "seen_at": NOW}


def _seed(store):
    with store.engine.begin() as conn:
        conn.execute(insert(t.sync_state), [
            {"entry": "amazon_it", "marketplace": "amazon", "country": "IT", "last_lookup_at": NOW, "last_import_at": NOW},
        ])
        conn.execute(insert(t.inbox), [
            _inbox("amazon", "IT", "402-0000001-0000001", "UNSHIPPED", "imported", "Anna Rossi"),
            _inbox("amazon", "IT", "402-0000002-0000002", "UNSHIPPED", "not_imported", "Marco Bianchi"),
            _inbox("cdiscount", "FR", "CD-1", "WaitingAcceptance", "waiting", "Jean Dupont"),
        ])
        order_id = conn.execute(insert(t.orders).values(
            marketplace="amazon", country="IT", marketplace_order_id="402-0000001-0000001", status="shipped",
            marketplace_status="UNSHIPPED", fulfillment="MERCHANT", purchase_date=NOW, marketplace_updated_at=NOW,
            currency="EUR", total=19.9, ship_name="Anna Rossi", ship_line1="Via Roma 1", ship_phone="+39 000",
            import_batch="b", imported_at=NOW, updated_at=NOW,
        )).inserted_primary_key[0]
        conn.execute(insert(t.not_imported).values(
            marketplace="amazon", country="IT", marketplace_order_id="402-0000002-0000002", reason="unknown_product",
            message="no product OS-CLOCK-WALL", first_failed_at=NOW - timedelta(hours=30), last_failed_at=NOW))
        conn.execute(insert(t.shipment_confirmations).values(
            order_id=order_id, package_ref="1", carrier_code="BRT", tracking_number="IT1", state="rejected",
            message="InvalidInput: carrier", claimed_by="x", claimed_at=NOW))
        conn.execute(insert(t.reconciliation).values(
            entry="amazon_it", marketplace="amazon", country="IT", day="2026-03-09", generated_at=NOW,
            **{**dict.fromkeys(t.RECONCILIATION_COUNTS, 0), "on_marketplace": 2, "expected": 2, "imported": 1,
               "missing": 1, "not_imported": 1}))


def test_entry_overview_lists_and_summary(store):
    _seed(store)
    page = entry_overview(store, AMAZON, now=NOW)
    assert page["summary"]["orders_imported"] == 1
    assert page["summary"]["orders_not_imported"] == 1
    assert page["summary"]["packages_not_shipped"] == 1
    assert page["summary"]["last_import_at"].startswith("2026-03-10T12:00:00")
    [aside] = page["not_imported"]
    assert (aside["order_id"], aside["reason"], aside["age_hours"]) == ("402-0000002-0000002", "unknown_product", 30.0)
    assert aside["buyer_name"] == "Marco Bianchi" and aside["country"] == "IT"
    [refused] = page["not_shipped"]
    assert refused["message"] == "InvalidInput: carrier" and refused["order_id"] == "402-0000001-0000001"
    assert page["waiting_acceptance"] == [] and page["accept_first"] is False
    text = json.dumps(page)
    assert "Via Roma" not in text and "+39" not in text  # no address or phone, only the buyer's name

    cdiscount = entry_overview(store, CDISCOUNT, now=NOW)
    assert [o["order_id"] for o in cdiscount["waiting_acceptance"]] == ["CD-1"]
    assert cdiscount["summary"]["orders_imported"] == 0 and cdiscount["summary"]["last_import_at"] is None


def test_latest_reconciliation_is_the_report_page(store):
    assert latest_reconciliation_html(store, [AMAZON]) is None
    _seed(store)
    html = latest_reconciliation_html(store, [AMAZON])
    assert "<svg" in html and "amazon_it" in html and "unknown_product: 1" in html
    assert latest_reconciliation_html(store, [CDISCOUNT]) is None  # only the entries asked for
    # re-imported after the report: its reasons stay those of the report's time, like its figures
    with store.engine.begin() as conn:
        conn.execute(t.not_imported.update().values(resolved_at=NOW + timedelta(hours=1)))
    assert "unknown_product: 1" in latest_reconciliation_html(store, [AMAZON])
