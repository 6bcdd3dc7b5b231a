"""Airflow pools: one per (seller account, API region), so countries of one seller share a quota.

Amazon's usage plans are per selling partner and region, not per country: IT, FR and DE of one
seller draw on the same searchOrders bucket. The pool caps how many of their marketplace tasks
run at once; the token-bucket limiter then paces the requests those tasks make.
"""

from __future__ import annotations

import json
from typing import Any

from ordersync.marketplaces import AMAZON_USAGE_PLANS, amazon_marketplace

# A lookup spends up to this many searchOrders requests of the burst before it has to pace
# itself; slots = burst // this lets that many run at once without starving each other.
REQUESTS_PER_TASK = 10


def pool_name(entry: Any) -> str:
    """``ordersync_<conn_id>_<region>``: the seller account is the connection, the region its endpoint."""
    region = amazon_marketplace(entry.country).region if entry.marketplace == "amazon" else "all"
    return f"ordersync_{entry.conn_id}_{region}".lower()


def pool_slots(entry: Any) -> int:
    if entry.marketplace == "amazon":
        return max(1, AMAZON_USAGE_PLANS["searchOrders"].burst // REQUESTS_PER_TASK)
    return 2


def pools(config: Any) -> dict[str, dict[str, Any]]:
    """Every pool the enabled entries need, in the shape ``airflow pools import`` reads."""
    out: dict[str, dict[str, Any]] = {}
    for entry in config.enabled:
        name = pool_name(entry)
        users = out.setdefault(name, {"slots": pool_slots(entry), "entries": []})["entries"]
        users.append(entry.key)
    return {
        name: {
            "slots": spec["slots"],
            "description": f"ordersync marketplace calls of {', '.join(spec['entries'])}",
            "include_deferred": False,
        }
        for name, spec in sorted(out.items())
    }


def pools_json(config: Any) -> str:
    return json.dumps(pools(config), indent=2, sort_keys=True)
