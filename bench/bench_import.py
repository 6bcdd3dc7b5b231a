"""Import throughput (set-based vs one-row-at-a-time ORM) and peak memory (1k vs 100k orders).

The set-based figure is the real path of a DAG run: pages of Amazon payloads staged in the inbox
(``ShopStore.stage``), then ``steps.import_orders`` (parse, rules, one transaction per page). The
baseline is what a hand-written cron script does: an ORM session, a query and an insert per row,
a commit per order, on the same orders and database in the same run. Memory is the peak RSS of a
child process importing 1k and then 100k orders: it must stay flat because everything streams
page by page.

Environment: BENCH_ORDERS (default 10000), BENCH_MEMORY_ORDERS (default 100000),
BENCH_POSTGRES (default postgresql+psycopg://postgres@127.0.0.1:5432/ordersync_bench; "" to skip).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
MEMORY_ORDERS = int(os.environ.get("BENCH_MEMORY_ORDERS", "100000"))
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/ordersync_bench")
LINES = 3
SKUS = [f"BENCH-{i:03d}" for i in range(50)]


def payload(n: int) -> dict[str, Any]:
    """A complete Amazon v2026-01-01 order (merchant fulfilled, unshipped) with three lines."""
    items = [
        {
            "orderItemId": f"{n:08d}{k}",
            "quantityOrdered": 1 + k % 2,
            "product": {"asin": f"B0{(n + k) % 50:08d}", "sellerSku": SKUS[(n * 7 + k) % 50], "title": "Bench item",
                        "price": {"unitPrice": {"amount": "9.90", "currencyCode": "EUR"}}},
            "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": 1 + k % 2},
        }
        for k in range(LINES)
    ]
    return {
        "orderId": f"402-{n:07d}-{n * 31 % 10_000_000:07d}",
        "createdTime": "2026-11-20T10:00:00Z",
        "lastUpdatedTime": "2026-11-20T11:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "APJ6JRA9NG5V4", "marketplaceName": "Amazon.it"},
        "buyer": {"buyerName": f"Buyer {n}", "buyerEmail": f"b{n % 5000}@marketplace.amazon.it"},
        "recipient": {"deliveryAddress": {"name": f"Buyer {n}", "addressLine1": "Via Roma 1", "city": "Milano",
                                          "postalCode": "20121", "countryCode": "IT"}},
        "proceeds": {"grandTotal": {"amount": "49.50", "currencyCode": "EUR"}},
        "fulfillment": {"fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "STANDARD"},
        "orderItems": items,
    }


def pages(count: int, size: int = 100) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, count, size):
        yield [payload(n) for n in range(start, min(count, start + size))]


def fresh_store(url: str):
    from sqlalchemy import create_engine

    from ordersync.shop import schema
    from ordersync.shop.migrate import VERSION_TABLE
    from ordersync.shop.store import ShopStore
    from ordersync.shop.views import drop_views

    engine = create_engine(url)
    with engine.begin() as conn:
        drop_views(conn)
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
    engine.dispose()
    store = ShopStore.from_url(url)
    store.migrate()
    store.add_products([{"sku": sku, "name": sku, "stock": 10**9} for sku in SKUS])
    return store


def set_based(url: str, count: int) -> float:
    """Seconds to stage and import ``count`` orders the way the DAG does."""
    from ordersync import steps
    from ordersync.channels.amazon import AmazonChannel
    from ordersync.config import Entry

    store = fresh_store(url)
    entry = Entry(marketplace="amazon", country="IT", conn_id="bench", reserve_pending=False)
    channel = AmazonChannel(None, "IT")
    started = time.perf_counter()
    for page in pages(count):
        store.stage("amazon", "IT", [channel.stage(p) for p in page])
    counts = steps.import_orders(channel, store, entry)
    elapsed = time.perf_counter() - started
    assert counts["imported"] == count, counts
    store.engine.dispose()
    return elapsed


def naive_orm(url: str, count: int) -> float:
    """Seconds for a one-row-at-a-time ORM import of the same orders (the hand-written baseline)."""
    store = fresh_store(url)
    elapsed = naive_import(store, pages(count))
    assert store.count("orders") == count
    store.engine.dispose()
    return elapsed


def naive_import(store: Any, pages: Iterator[list[dict[str, Any]]]) -> float:
    """Seconds for the one-row ORM import of these pages into ``store`` (bench_history reuses it)."""
    from decimal import Decimal

    from sqlalchemy.orm import Session, registry

    from ordersync.channels.amazon import AmazonChannel
    from ordersync.rules import customer_key
    from ordersync.shop import schema as t
    from ordersync.shop.store import utcnow

    mapper = registry()

    class Product: ...

    class Customer: ...

    class Order: ...

    class Line: ...

    class Move: ...

    for cls, table in ((Product, t.products), (Customer, t.customers), (Order, t.orders), (Line, t.order_lines), (Move, t.stock_moves)):
        mapper.map_imperatively(cls, table)
    channel = AmazonChannel(None, "IT")
    started = time.perf_counter()
    with Session(store.engine) as session:
        for page in pages:
            for raw in page:
                o = channel.parse(raw)
                now = utcnow()
                if session.query(Order).filter_by(marketplace="amazon", country="IT", marketplace_order_id=o.order_id).first():
                    continue
                key = customer_key(o)
                customer = session.query(Customer).filter_by(customer_key=key).first()
                if customer is None:
                    customer = Customer(customer_key=key, marketplace="amazon", name=o.buyer_name, email=o.buyer_email, created_at=now)
                    session.add(customer)
                    session.flush()
                order = Order(marketplace="amazon", country="IT", marketplace_order_id=o.order_id, customer_id=customer.id,
                              status="processing", marketplace_status=o.status.value, fulfillment=o.fulfillment.value,
                              purchase_date=o.purchase_date, marketplace_updated_at=o.last_updated, currency=o.currency,
                              total=o.total, is_prime=False, import_batch="naive", imported_at=now, updated_at=now)
                session.add(order)
                session.flush()
                for line in o.lines:
                    product = session.query(Product).filter_by(sku=line.sku).one()
                    row = Line(order_id=order.id, line_id=line.line_id, product_id=product.id, sku=line.sku, name=line.title,
                               quantity=line.quantity, unit_price=Decimal(line.unit_price))
                    session.add(row)
                    session.flush()
                    session.add(Move(product_id=product.id, order_line_id=row.id, reason="sale", quantity=-line.quantity,
                                     batch="naive", created_at=now))
                    product.stock -= line.quantity
                session.commit()
    return time.perf_counter() - started


def _child_peak_rss(count: int) -> int:
    """Peak RSS in KiB of a fresh process importing ``count`` orders into SQLite."""
    with tempfile.TemporaryDirectory() as tmp:
        code = (
            "import resource, sys; from bench.bench_import import set_based; "
            f"set_based('sqlite:///{tmp}/mem.db', {count}); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ.copy())
        return int(out.stdout.strip().splitlines()[-1])


def _postgres_ready(target: str = POSTGRES) -> bool:
    """Create the bench database on the server if missing; False when there is no server."""
    if not target:
        return False
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(target)
    try:
        admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}).scalar():
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        admin.dispose()
        return True
    except Exception:  # noqa: BLE001 - no server: report and go on
        return False


def main() -> list[str]:
    out = []
    engines = [("SQLite", None)]
    if _postgres_ready():
        engines.append(("PostgreSQL", POSTGRES))
    else:
        out.append(f"PostgreSQL at {POSTGRES or '(BENCH_POSTGRES empty)'} not reachable: skipped")
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in engines:
            url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            fast = set_based(url, ORDERS)
            slow = naive_orm(url, ORDERS)
            out.append(
                f"{name}: {ORDERS} orders x {LINES} lines: set-based {ORDERS / fast:,.0f} orders/s, "
                f"one-row ORM {ORDERS / slow:,.0f} orders/s -> {slow / fast:.1f}x faster"
            )
    small, large = _child_peak_rss(1000), _child_peak_rss(MEMORY_ORDERS)
    out.append(
        f"peak RSS: 1,000 orders {small / 1024:.0f} MiB, {MEMORY_ORDERS:,} orders {large / 1024:.0f} MiB "
        f"-> ratio {large / small:.2f} (flat = close to 1)"
    )
    _ = resource  # imported for the child
    return out
