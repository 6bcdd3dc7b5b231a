"""SQL kept as files in the package's ``queries/`` folder (views, summaries, reports), loaded by name."""

from __future__ import annotations

import os
from pathlib import Path

SQL_DIR = Path(os.environ.get("ORDERSYNC_SQL_DIR", Path(__file__).resolve().parent / "queries"))


def load_sql(name: str) -> str:
    """The text of ``queries/<name>.sql``."""
    path = SQL_DIR / f"{name}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found (ORDERSYNC_SQL_DIR overrides the folder)") from None
