"""SQL kept as files in include/sql (views, summaries, reports), loaded by name."""

from __future__ import annotations

import os
from pathlib import Path

SQL_DIR = Path(os.environ.get("ORDERSYNC_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))


def load_sql(name: str) -> str:
    """The text of ``include/sql/<name>.sql``."""
    path = SQL_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found (set ORDERSYNC_SQL_DIR to the include/sql folder)") from None
