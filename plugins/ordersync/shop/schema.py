"""The shop database tables (SQLAlchemy Core, portable across SQLite, PostgreSQL and MariaDB).

Unique keys carry the exactly-once guarantees: an order is unique per (marketplace, country,
marketplace order id), a line per (order, marketplace line id), a stock move per (line, reason),
a shipment confirmation per (order, package). Writers insert-and-ignore against these keys instead
of checking first, so concurrent runs cannot both win.

The module runs over 400 lines because it is the whole schema in one place: every table with the
keys and indexes the migrations must match (tests/unit/test_migrations.py compares them), which a
split by table would scatter.
"""

from __future__ import annotations

from datetime import timezone

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy import true
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# MariaDB's TEXT stops at 64 KiB; a large order payload must still fit.
LongText = Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")
Money = Numeric(14, 2)
ShopStatus = String(32).with_variant(mysql.VARCHAR(32, collation="utf8mb4_bin"), "mysql", "mariadb")


class UtcDateTimeType(TypeDecorator):
    """Stores UTC as a naive timestamp and hands back aware datetimes, the same on every dialect.

    SQLite and MariaDB have no time zone type; normalising here keeps comparisons and round trips
    identical everywhere.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))  # keep microseconds
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the shop database stores UTC only")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


UtcDateTime = UtcDateTimeType()

products = Table(
    "products",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sku", String(64), nullable=False, unique=True),
    Column("asin", String(16), index=True),
    Column("ean", String(14), index=True),
    Column("name", String(255), nullable=False),
    Column("price", Money),
    Column("stock", Integer, nullable=False, default=0),  # may go negative: orders are never lost to stock
    Column("active", Boolean, nullable=False, default=True),  # false: no longer sold by the shop
    Column("visible", Boolean, nullable=False, default=True, server_default=true()),  # false: hidden placeholder (FBA)
    Column("supplier_reference", String(64), index=True),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    # marketplace + a digest of the buyer's marketplace e-mail: one customer per buyer and channel
    Column("customer_key", String(96), nullable=False, unique=True),
    Column("marketplace", String(16), nullable=False),
    Column("name", String(255)),
    Column("email", String(255)),
    Column("phone", String(64)),
    Column("tax_id", String(32)),  # DNI / fiscal code; "00000" when faked for shops that require one
    Column("created_at", UtcDateTime, nullable=False),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("marketplace_order_id", String(64), nullable=False),
    Column("customer_id", Integer, ForeignKey("customers.id")),
    Column("shop_order_number", String(64)),  # the shop's visible number, re-mappable by hand
    # the shop's own status; compared exactly (binary on MariaDB, whose default collation would
    # let "Shipped" trigger a confirmation configured for "shipped")
    Column("status", ShopStatus, nullable=False),
    Column("payment_status", String(32)),
    Column("flags", String(255)),  # comma-separated warnings, e.g. stock_short,product_inactive
    Column("marketplace_status", String(32), nullable=False),
    Column("fulfillment", String(16), nullable=False),
    Column("purchase_date", UtcDateTime, nullable=False),
    Column("marketplace_updated_at", UtcDateTime, nullable=False),
    Column("latest_ship_date", UtcDateTime),
    Column("currency", String(3), nullable=False),
    Column("total", Money, nullable=False),
    Column("is_prime", Boolean, nullable=False, default=False),
    Column("service_level", String(32)),
    Column("ship_name", String(255)),
    Column("ship_line1", String(255)),
    Column("ship_line2", String(255)),
    Column("ship_city", String(128)),
    Column("ship_postal_code", String(32)),
    Column("ship_region", String(128)),
    Column("ship_country", String(2)),
    Column("ship_phone", String(64)),
    # set by the shop when it ships; fulfillment reads them
    Column("carrier", String(64)),
    Column("tracking_number", String(64)),
    Column("shipped_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    # fulfillment's bookmark, so it reads only what is pending, never the shipped past: NULL while
    # the order may still be confirmed through its status (package "1"); "claimed" once that
    # package is claimed, "packages" when the shop ships it as package rows, "marketplace" for
    # orders the marketplace ships. Reset to NULL with a refused confirmation that is resent.
    Column("confirm_state", String(16)),
    Column("import_batch", String(36), nullable=False),
    Column("imported_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("marketplace", "country", "marketplace_order_id", name="uq_orders_marketplace_order"),
    Index("ix_orders_batch", "import_batch"),
    # by status (summaries, the grid) and what fulfillment still has to confirm (confirm_state NULL)
    Index("ix_orders_to_confirm", "marketplace", "country", "status", "confirm_state"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("product_id", Integer, ForeignKey("products.id")),
    Column("sku", String(64)),
    Column("asin", String(16)),
    Column("name", String(255), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Money, nullable=False),
    UniqueConstraint("order_id", "line_id", name="uq_order_lines_line"),
)

# Pending orders hold their quantity here until they become importable (the reservation turns
# into the order's sale) or are cancelled / expire (the quantity is restored).
reservations = Table(
    "reservations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("marketplace_order_id", String(64), nullable=False),
    Column("line_id", String(64), nullable=False),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("sku", String(64)),
    Column("quantity", Integer, nullable=False),  # ordered
    Column("available", Integer, nullable=False),  # product stock when reserved, for the merchant
    Column("state", String(16), nullable=False),  # reserved | converted | released
    Column("note", String(255)),
    Column("batch", String(36), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("marketplace", "country", "marketplace_order_id", "line_id", name="uq_reservations_line"),
    Index("ix_reservations_state", "marketplace", "country", "state"),
    Index("ix_reservations_batch", "batch"),  # what one call reserved, without reading the history
)

# The stock ledger: products.stock changes only together with a row here. Each (line, reason) and
# (reservation, reason) happens once: sale / cancel for order lines, reserve / release for
# reservations (NULLs do not collide in unique keys on any of the three engines).
stock_moves = Table(
    "stock_moves",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("product_id", Integer, ForeignKey("products.id"), nullable=False),
    Column("order_line_id", Integer, ForeignKey("order_lines.id")),
    Column("reservation_id", Integer, ForeignKey("reservations.id", name="fk_stock_moves_reservation")),
    Column("reason", String(16), nullable=False),  # sale | cancel | reserve | release
    Column("quantity", Integer, nullable=False),  # signed: a sale is negative
    Column("batch", String(36), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_line_id", "reason", name="uq_stock_moves_line_reason"),
    UniqueConstraint("reservation_id", "reason", name="uq_stock_moves_reservation_reason"),
    Index("ix_stock_moves_batch", "batch"),
)

refunds = Table(
    "refunds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("refund_ref", String(64), nullable=False),  # "cancel" for a cancellation, else the marketplace's id
    Column("amount", Money, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_id", "refund_ref", name="uq_refunds_order_ref"),
)

# Everything lookup saw, as the marketplace sent it: nothing seen is ever lost, even if it
# cannot be imported yet, and import can re-read it after a product is fixed.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("marketplace_order_id", String(64), nullable=False),
    Column("marketplace_status", String(32), nullable=False),
    Column("fulfillment", String(16), nullable=False),
    Column("marketplace_updated_at", UtcDateTime, nullable=False),
    Column("payload", LongText, nullable=False),
    # new | imported | changed (imported, then changed on the marketplace) | not_imported |
    # waiting | skipped | recorded (entry records orders for review without creating them)
    Column("state", String(16), nullable=False),
    Column("note", String(255)),  # why it waits or was skipped
    # order grid columns, kept current by lookup so the grid needs no JSON parsing
    Column("store_name", String(64)),
    Column("buyer_name", String(255)),
    Column("purchase_date", UtcDateTime),
    Column("latest_ship_date", UtcDateTime),
    Column("total", Money),
    Column("currency", String(3)),
    Column("is_prime", Boolean),
    Column("items_shipped", Integer),
    Column("items_unshipped", Integer),
    Column("last_action", String(255)),
    Column("batch", String(36), nullable=False),  # the lookup call that first saw it
    Column("first_seen_at", UtcDateTime, nullable=False),
    Column("seen_at", UtcDateTime, nullable=False),
    UniqueConstraint("marketplace", "country", "marketplace_order_id", name="uq_inbox_marketplace_order"),
    Index("ix_inbox_state", "marketplace", "country", "state"),
    Index("ix_inbox_purchase", "marketplace", "country", "purchase_date"),  # reconciliation's window
)

not_imported = Table(
    "not_imported",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("marketplace_order_id", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("first_failed_at", UtcDateTime, nullable=False),
    Column("last_failed_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    UniqueConstraint("marketplace", "country", "marketplace_order_id", name="uq_not_imported_order"),
)

# One row per package confirmed (or being confirmed) to the marketplace.
shipment_confirmations = Table(
    "shipment_confirmations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("package_ref", String(32), nullable=False),
    Column("carrier_code", String(64), nullable=False),
    Column("carrier_name", String(64)),
    Column("tracking_number", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # sending | confirmed | rejected
    Column("message", Text),
    Column("claimed_by", String(36), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("confirmed_at", UtcDateTime),
    UniqueConstraint("order_id", "package_ref", name="uq_confirmations_package"),
    Index("ix_confirmations_state", "state", "claimed_at"),  # attempts in doubt, without the past
)

# One row per entry: when each step last finished (the summary's "last import" and so on).
sync_state = Table(
    "sync_state",
    metadata,
    Column("entry", String(64), primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("last_lookup_at", UtcDateTime),
    Column("last_window_end", UtcDateTime),
    Column("last_import_at", UtcDateTime),
    Column("last_fulfillment_at", UtcDateTime),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("entry", String(64), nullable=False),
    Column("step", String(16), nullable=False),  # lookup | accept | import | fulfillment
    Column("run_id", String(250), nullable=False),
    Column("window_start", UtcDateTime),
    Column("window_end", UtcDateTime),
    Column("counts", Text, nullable=False),  # JSON of the step's counts, as in the XCom
    Column("finished_at", UtcDateTime, nullable=False),
    UniqueConstraint("entry", "step", "run_id", name="uq_sync_runs_step"),
)

# The data team's daily reconciliation, one row per entry x purchase day (ordersync.reconcile).
RECONCILIATION_COUNTS = (
    "on_marketplace", "expected", "imported", "missing", "not_imported", "unexplained",
    "duplicated_orders", "duplicated_moves", "confirmed_twice",
    "shipped_not_confirmed", "cancel_not_applied", "shipped_elsewhere", "amount_drift",
)
reconciliation = Table(
    "reconciliation",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("entry", String(64), nullable=False),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("day", String(10), nullable=False),  # YYYY-MM-DD of the purchase, UTC
    *(Column(name, Integer, nullable=False, default=0) for name in RECONCILIATION_COUNTS),
    Column("generated_at", UtcDateTime, nullable=False),
    UniqueConstraint("entry", "day", name="uq_reconciliation_entry_day"),
)

# Packages the shop shipped, one row each; fulfillment confirms every package once. An order
# shipped in several boxes (or partly) has several rows; without any row, the order's own
# carrier/tracking_number is confirmed as package "1" with every line.
shop_packages = Table(
    "shop_packages",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False),
    Column("package_ref", String(32), nullable=False),  # Amazon wants a positive number as text
    Column("carrier", String(64)),
    Column("shipping_method", String(64)),
    Column("tracking_number", String(64), nullable=False),
    Column("shipped_at", UtcDateTime, nullable=False),
    # NULL until fulfillment claims the package's confirmation ("claimed"): the pending ones
    Column("confirm_state", String(16)),
    UniqueConstraint("order_id", "package_ref", name="uq_shop_packages_package"),
    Index("ix_shop_packages_to_confirm", "confirm_state", "order_id"),
)

shop_package_items = Table(
    "shop_package_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("package_id", Integer, ForeignKey("shop_packages.id"), nullable=False),
    Column("order_line_id", Integer, ForeignKey("order_lines.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    UniqueConstraint("package_id", "order_line_id", name="uq_shop_package_items_line"),
)

# Token buckets of the marketplace usage plans, shared by every task process of a seller account
# and region. ``version`` is bumped on each take: writers compare-and-set on it.
rate_limit_buckets = Table(
    "rate_limit_buckets",
    metadata,
    Column("bucket", String(128), primary_key=True),  # "<conn_id>:<region>:<operation>"
    Column("tokens", Numeric(20, 6), nullable=False),
    Column("refilled_at_us", BigInteger, nullable=False),  # unix time in microseconds
    Column("version", BigInteger, nullable=False),
)

# Accept-first channels (Cdiscount, Lengow): one answer per marketplace order, claimed here before
# it is sent (like shipment confirmations) so a retried or concurrent run never answers twice.
# Acceptance creates no customer and moves no stock: import does, once the marketplace says so.
acceptances = Table(
    "acceptances",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("marketplace", String(16), nullable=False),
    Column("country", String(4), nullable=False),
    Column("marketplace_order_id", String(64), nullable=False),
    Column("decision", String(8), nullable=False),  # accept | refuse
    Column("reason", String(255)),  # why (stock check, manual action), never buyer data
    Column("state", String(16), nullable=False),  # sending | sent | rejected
    Column("message", Text),  # the marketplace's answer when it refused the request
    Column("claimed_by", String(36), nullable=False),
    Column("attempts", Integer, nullable=False, default=1),
    Column("claimed_at", UtcDateTime, nullable=False),
    Column("answered_at", UtcDateTime),
    UniqueConstraint("marketplace", "country", "marketplace_order_id", name="uq_acceptances_order"),
)

# Region-wide listings (Amazon): how far the orders of every marketplace of one seller account x
# region have been listed, per kind of listing ("all", "fba", "doublecheck@<end>"...). The first
# lookup of an interval takes the row (compare-and-set on version, a lease in case it dies), lists
# every country, stages them and moves covered_until; the other countries' lookups find it covered.
region_watermarks = Table(
    "region_watermarks",
    metadata,
    Column("scope", String(128), primary_key=True),  # "<conn_id>:<region>:<kind>"
    Column("covered_until", UtcDateTime, nullable=True),  # listed up to here (None: never)
    Column("locked_by", String(36), nullable=True),  # token of the lookup listing now
    Column("locked_until", UtcDateTime, nullable=True),  # its lease; renewed after every page
    Column("version", BigInteger, nullable=False),
)
