"""Every import setting of an entry, one test each: pure rules, no database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ordersync import rules, steps
from ordersync.config import ConfigError, Entry, load_config
from ordersync.model import Address, Fulfillment, MarketplaceOrder, OrderLine, OrderStatus

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
MUG = {"id": 1, "sku": "MUG", "ean": "8000000000017", "asin": "B0MUG", "stock": 5, "active": True}
CAP = {"id": 2, "sku": "CAP", "ean": "8000000000024", "asin": "B0CAP", "stock": 0, "active": True}
OLD = {"id": 3, "sku": "OLD", "asin": "B0OLD", "stock": 9, "active": False}
PLACEHOLDER = {"id": 99, "sku": "ORDERSYNC-FBA", "stock": 0, "active": True, "visible": False}


def entry(**settings) -> Entry:
    return Entry(marketplace="amazon", country="IT", conn_id="amazon_eu", **settings)


def order(oid="405-1", *, status=OrderStatus.UNSHIPPED, fba=False, sku="MUG", asin="B0MUG", qty=1, tax_id=None, service="Standard"):
    return MarketplaceOrder(
        marketplace="amazon",
        country="IT",
        order_id=oid,
        status=status,
        fulfillment=Fulfillment.MARKETPLACE if fba else Fulfillment.MERCHANT,
        purchase_date=T0,
        last_updated=T0,
        currency="EUR",
        total=Decimal("9.90"),
        lines=(OrderLine("L1", sku, asin, "Stoneware mug", qty, Decimal("9.90")),),
        buyer_email="abc@marketplace.amazon.it",
        ship_to=Address("Giulia Rossi", "Via Roma 1", "Milano", "20121", "IT"),
        service_level=service,
        buyer_tax_id=tax_id,
    )


def catalog(*products, placeholder=None, key="sku"):
    return rules.Catalog(
        by_key={p[key]: p for p in products if p.get(key)},
        by_asin={p["asin"]: p for p in products if p.get("asin")},
        placeholder=placeholder,
    )


def test_lookback_accepts_hours_and_days_and_widens_the_window():
    assert entry(lookback="36h").lookback == timedelta(hours=36)
    assert entry(lookback="3d").lookback == timedelta(days=3)
    assert entry(lookback=6).lookback == timedelta(hours=6)
    with pytest.raises(ValueError, match="duration"):
        entry(lookback="3 weeks")
    w = steps.run_window(entry(lookback="3d"), T0, T0 + timedelta(minutes=30))
    assert w.start == T0 + timedelta(minutes=30) - timedelta(days=3)
    # a lookback shorter than the interval never narrows it
    w = steps.run_window(entry(lookback="10m", overlap_minutes=0), T0, T0 + timedelta(hours=1))
    assert w.start == T0


def test_sku_source_matches_on_the_chosen_product_field():
    by_ean = catalog(MUG, key="ean")
    d = rules.decide([order(sku="8000000000017")], by_ean, entry(sku_source="ean"))
    assert d.plans[0].product_ids == (1,)
    d = rules.decide([order(sku="MUG")], by_ean, entry(sku_source="ean"))
    assert d.rejected[0].reason == "no_matching_product" and "EAN MUG" in d.rejected[0].message


def test_prioritise_asin_matches_asin_first_then_falls_back_to_sku():
    # the marketplace SKU points at CAP but the ASIN is the mug's: ASIN wins when prioritised
    o = order(sku="CAP", asin="B0MUG")
    assert rules.decide([o], catalog(MUG, CAP), entry()).plans[0].product_ids == (2,)
    assert rules.decide([o], catalog(MUG, CAP), entry(prioritise_asin=True)).plans[0].product_ids == (1,)
    fallback = order(sku="CAP", asin="B0UNKNOWN")
    assert rules.decide([fallback], catalog(MUG, CAP), entry(prioritise_asin=True)).plans[0].product_ids == (2,)


def test_fba_has_its_own_prioritise_asin():
    o = order(sku="CAP", asin="B0MUG", fba=True, status=OrderStatus.SHIPPED)
    e = entry(import_fba=True, prioritise_asin=False, fba_prioritise_asin=True)
    assert rules.decide([o], catalog(MUG, CAP), e).plans[0].product_ids == (1,)
    assert rules.decide([order(sku="CAP", asin="B0MUG")], catalog(MUG, CAP), e).plans[0].product_ids == (2,)


def test_unavailable_products_are_imported_and_flagged_by_default():
    d = rules.decide([order("short", sku="CAP"), order("gone", sku="OLD", asin="B0OLD")], catalog(CAP, OLD), entry())
    assert {p.order.order_id: p.flags for p in d.plans} == {"short": ("stock_short",), "gone": ("product_inactive",)}
    d = rules.decide([order("short", sku="CAP"), order("gone", sku="OLD")], catalog(CAP, OLD), entry(import_unavailable=False))
    assert {r.order_id: r.reason for r in d.rejected} == {"short": "out_of_stock", "gone": "product_unavailable"}


def test_import_carrier_map_gives_the_shop_carrier():
    e = entry(import_carrier_map={"Expedited": "sda_express"}, import_default_carrier="poste")
    d = rules.decide([order("a", service="Expedited"), order("b", service="Standard")], catalog(MUG), e)
    assert [p.carrier for p in d.plans] == ["sda_express", "poste"]


def test_statuses_given_to_imported_orders():
    e = entry(order_status="awaiting_shipment", payment_status="paid_on_marketplace", fba_order_status="fba_done", import_fba=True)
    d = rules.decide([order("mfn"), order("fba", fba=True, status=OrderStatus.SHIPPED)], catalog(MUG), e)
    got = {p.order.order_id: (p.status, p.payment_status, p.moves_stock) for p in d.plans}
    assert got == {"mfn": ("awaiting_shipment", "paid_on_marketplace", True), "fba": ("fba_done", "paid_on_marketplace", False)}


def test_fake_email_hides_the_buyer_address():
    plan = rules.decide([order()], catalog(MUG), entry()).plans[0]
    assert plan.customer_email.endswith("@amazon.marketplace.invalid") and "abc" not in plan.customer_email
    assert rules.decide([order()], catalog(MUG), entry(fake_email=False)).plans[0].customer_email == "abc@marketplace.amazon.it"


def test_fake_tax_id_where_the_shop_requires_one():
    assert rules.decide([order()], catalog(MUG), entry()).plans[0].tax_id is None
    assert rules.decide([order()], catalog(MUG), entry(require_tax_id=True)).plans[0].tax_id == "00000"
    assert rules.decide([order(tax_id="RSSGLI80A41F205X")], catalog(MUG), entry(require_tax_id=True)).plans[0].tax_id == "RSSGLI80A41F205X"
    d = rules.decide([order()], catalog(MUG), entry(require_tax_id=True, fake_tax_id=False))
    assert d.rejected[0].reason == "missing_tax_id"


def test_fba_orders_skipped_unless_enabled_then_imported_when_shipped():
    fba_shipped = order("s", fba=True, status=OrderStatus.SHIPPED)
    fba_open = order("u", fba=True, status=OrderStatus.UNSHIPPED)
    d = rules.decide([fba_shipped, fba_open], catalog(MUG), entry())
    assert [s[0] for s in d.skipped] == ["s", "u"] and not d.plans
    d = rules.decide([fba_shipped, fba_open], catalog(MUG), entry(import_fba=True))
    assert [p.order.order_id for p in d.plans] == ["s"] and not d.plans[0].moves_stock
    assert [w[0] for w in d.waiting] == ["u"]


def test_fba_placeholder_imports_unmatched_fba_lines_as_hidden_product():
    o = order("f", fba=True, status=OrderStatus.SHIPPED, sku="NOT-IN-SHOP", asin="B0NONE")
    e = entry(import_fba=True)
    assert rules.decide([o], catalog(MUG, placeholder=PLACEHOLDER), e).rejected[0].reason == "no_matching_product"
    d = rules.decide([o], catalog(MUG, placeholder=PLACEHOLDER), entry(import_fba=True, fba_placeholder=True))
    plan = d.plans[0]
    assert plan.product_ids == (99,) and plan.line_names == ("{FBA} Stoneware mug",) and not plan.moves_stock
    # merchant orders never use the placeholder
    d = rules.decide([order("m", sku="NOT-IN-SHOP", asin="B0NONE")], catalog(MUG, placeholder=PLACEHOLDER), entry(import_fba=True, fba_placeholder=True))
    assert d.rejected[0].reason == "no_matching_product"


def test_record_only_entries_create_no_orders():
    d = rules.decide([order()], catalog(MUG), entry(create_orders=False))
    assert not d.plans and [r[0] for r in d.recorded] == ["405-1"]


def test_pending_orders_reserve_unless_disabled_and_cancellations_release():
    d = rules.decide([order("p", status=OrderStatus.PENDING, qty=2)], catalog(MUG), entry())
    assert [w[0] for w in d.waiting] == ["p"]
    [res] = d.reservations
    assert [(line.line_id, pid, stock) for line, pid, stock in res.lines] == [("L1", 1, 5)]
    assert not rules.decide([order("p", status=OrderStatus.PENDING)], catalog(MUG), entry(reserve_pending=False)).reservations
    d = rules.decide([order("c", status=OrderStatus.CANCELLED)], catalog(MUG), entry())
    assert d.releases == [("c", "cancelled before import")] and d.skipped


def test_imported_orders_are_cancelled_or_updated_never_created_again():
    d = rules.decide(
        [order("c", status=OrderStatus.CANCELLED), order("s", status=OrderStatus.SHIPPED)], catalog(MUG), entry(), imported={"c", "s"}
    )
    assert [o.order_id for o in d.cancels] == ["c"] and [o.order_id for o in d.updates] == ["s"] and not d.plans


def test_example_config_documents_every_setting(tmp_path):
    """The README example entry is valid and a wrong value names the key."""
    readme = (steps.__file__.rsplit("plugins", 1)[0] + "README.md")
    text = open(readme, encoding="utf-8").read()
    block = text.split("<!-- example-entry -->", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    path = tmp_path / "m.yaml"
    path.write_text(block)
    cfg = load_config(path)
    assert cfg.entries[0].import_fba and cfg.entries[0].prioritise_asin
    for key in Entry.model_fields:
        assert f"`{key}`" in text, f"README does not document {key}"
    path.write_text(block.replace("sku_source: ean", "sku_source: barcode"))
    with pytest.raises(ConfigError, match="'sku_source'"):
        load_config(path)
