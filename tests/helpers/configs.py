"""Generated marketplaces configs for parse-time tests and ``make bench BENCH=parse``.

Only ``amazon`` is a valid marketplace today, so "5 marketplaces x 40 countries" is stood in for by
N amazon entries: the 18 Amazon countries, repeated for as many seller accounts as needed (entry
``name`` acctK, connection ``amazon_acctK``), so every entry has its own DAG id.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ordersync.marketplaces import AMAZON_MARKETPLACES


def generated_config(entries: int) -> dict:
    countries = sorted(AMAZON_MARKETPLACES)
    items = []
    for i in range(entries):
        account = i // len(countries)
        items.append({
            "marketplace": "amazon",
            "country": countries[i % len(countries)],
            "name": f"acct{account}",
            "conn_id": f"amazon_acct{account}",
            "carrier_map": {"dhl": "DHL", "gls": "GLS"},
        })
    return {"defaults": {"schedule": "*/30 * * * *", "overlap_minutes": 30}, "entries": items}


def write_config(path: Path, entries: int) -> Path:
    path.write_text(yaml.safe_dump(generated_config(entries), sort_keys=False))
    return path
