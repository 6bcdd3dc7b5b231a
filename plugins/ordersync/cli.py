"""``python -m ordersync``: shop database upkeep and demo commands.

    python -m ordersync db upgrade            create or upgrade the shop database schema
    python -m ordersync summary               per marketplace x country counts from the shop DB
    python -m ordersync pools                 the Airflow pools the config needs (airflow pools import)
    python -m ordersync demo seed-products    stock the demo shop with the sandbox catalogue
    python -m ordersync demo ship ENTRY N     play the warehouse: ship N imported orders
    python -m ordersync demo connections URL --shop PATH
                                              the demo's connections (sandbox at URL, SQLite shop)
                                              in Airflow's metadata database

The shop database is the one the DAGs use: ``--url``, else the Airflow connection
``ordersync_shop`` (it must exist: there is no fallback).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import text


def _store(url: str | None):
    from ordersync.hooks.shop import ShopDatabaseHook
    from ordersync.shop.store import ShopStore

    if url is None:
        url = shop_url_outside_a_task(ShopDatabaseHook.default_conn_name)
    return ShopStore.from_url(url)


def shop_url_outside_a_task(conn_id: str) -> str:
    """The shop connection's URL for a command run by hand: Airflow's task SDK reads connections
    through the API server inside tasks only, so here the metadata database (and environment and
    secrets backends) are asked through Airflow's own model, as the ``airflow`` CLI does."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    from ordersync.errors import MissingConnection
    from ordersync.hooks.shop import connection_url

    try:
        return connection_url(Connection.get_connection_from_secrets(conn_id))
    except AirflowNotFoundException:
        raise MissingConnection(
            f"shop database connection {conn_id!r} does not exist: create it (python -m ordersync demo "
            "connections for the demo, or airflow connections add), or pass --url"
        ) from None


def summary_rows(store) -> list[dict]:
    from ordersync.sql import load_sql

    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(load_sql("sync_summary"))).mappings()]


def format_summary(rows: list[dict]) -> str:
    cols = ["marketplace", "country", "found", "imported", "not_imported", "waiting", "skipped", "confirmed"]
    table = [cols] + [[str(r[c]) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(cols))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ordersync", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="shop database SQLAlchemy URL")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="shop database schema")
    db.add_argument("action", choices=["upgrade"])
    sub.add_parser("summary", help="print per marketplace x country counts")
    sub.add_parser("pools", help="print the Airflow pools the enabled entries need, as JSON")
    demo = sub.add_parser("demo", help="demo helpers")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True)
    demo_sub.add_parser("seed-products")
    ship = demo_sub.add_parser("ship")
    ship.add_argument("entry", help="config entry id, e.g. amazon_it")
    ship.add_argument("count", type=int)
    conns = demo_sub.add_parser("connections")
    conns.add_argument("sandbox_url")
    conns.add_argument("--shop", required=True, help="SQLite file of the demo shop")
    conns.add_argument("--rate-scale", type=float, default=100)
    args = parser.parse_args(argv)

    if args.command == "demo" and args.demo_command == "connections":  # Airflow's database, not the shop's
        from ordersync import demo as demo_mod

        made = demo_mod.install_connections(demo_mod.sandbox_connections(args.sandbox_url, args.shop, args.rate_scale))
        print(f"connections in Airflow's database: {', '.join(made)}")
        return 0
    if args.command == "pools":  # config only: no database needed
        from ordersync.config import load_config
        from ordersync.pools import pools_json

        print(pools_json(load_config()))
        return 0
    store = _store(args.url)
    if args.command == "db":
        store.migrate()
        print(f"shop database ready: {store.engine.url.render_as_string(hide_password=True)}")
    elif args.command == "summary":
        rows = summary_rows(store)
        print(format_summary(rows) if rows else "nothing synced yet")
    elif args.command == "demo":
        from ordersync import demo as demo_mod

        store.migrate()
        if args.demo_command == "seed-products":
            print(f"demo shop stocked with {demo_mod.seed_products(store)} products")
        else:
            from ordersync.config import load_config

            shipped = demo_mod.ship_orders(store, load_config().entry(args.entry), args.count)
            print(f"{args.entry}: warehouse shipped {len(shipped)} orders")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
