"""Airflow pools: per (seller account, API region), one for reading and one for confirming.

Amazon's usage plans are per selling partner and region, not per country: IT, FR and DE of one
seller draw on the same searchOrders bucket. The pools cap how many of their tasks run at once;
the token-bucket limiter then paces the requests those tasks make. Reading and confirming have
separate pools because their plans are far apart (searchOrders refills one request in three
minutes, confirmShipment two a second): a lookup sleeping on the limiter holds a reading slot,
never one the import and fulfillment tasks of the seller's countries need.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from ordersync.marketplaces import AMAZON_USAGE_PLANS, amazon_marketplace

Use = Literal["read", "confirm"]
# What a task of each kind uses of its plan's burst before it has to pace itself:
# slots = burst // this lets that many run at once without starving each other.
REQUESTS_PER_TASK: dict[str, int] = {"read": 10, "confirm": 2}
PLAN_OF = {"read": "searchOrders", "confirm": "confirmShipment"}
# which pool each step's task takes: lookup and the recovery list orders (searchOrders), manual
# actions read orders too; accept, import (no marketplace call on Amazon) and fulfillment are
# the work that must never queue behind a sleeping listing
STEP_USE: dict[str, Use] = {"lookup": "read", "recheck": "read", "doublecheck": "read", "action": "read",
                            "accept": "confirm", "import": "confirm", "fulfillment": "confirm"}


def pool_name(entry: Any, use: Use = "read") -> str:
    """``ordersync_<conn_id>_<region>_<use>``: the seller account is the connection, the region its
    endpoint, ``use`` reading or confirming."""
    region = amazon_marketplace(entry.country).region if entry.marketplace == "amazon" else "all"
    return f"ordersync_{entry.conn_id}_{region}_{use}".lower()


def pool_slots(entry: Any, use: Use = "read") -> int:
    if entry.marketplace == "amazon":
        return max(1, AMAZON_USAGE_PLANS[PLAN_OF[use]].burst // REQUESTS_PER_TASK[use])
    return 2


def pools(config: Any) -> dict[str, dict[str, Any]]:
    """Every pool the enabled entries need, in the shape ``airflow pools import`` reads."""
    out: dict[str, dict[str, Any]] = {}
    for entry in config.enabled:
        for use in ("read", "confirm"):
            name = pool_name(entry, use)
            users = out.setdefault(name, {"slots": pool_slots(entry, use), "use": use, "entries": []})["entries"]
            users.append(entry.key)
    return {
        name: {
            "slots": spec["slots"],
            "description": f"ordersync marketplace {'reads' if spec['use'] == 'read' else 'imports and confirmations'}"
                           f" of {', '.join(spec['entries'])}",
            "include_deferred": False,
        }
        for name, spec in sorted(out.items())
    }


def pools_json(config: Any) -> str:
    return json.dumps(pools(config), indent=2, sort_keys=True)
