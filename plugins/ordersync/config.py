"""The marketplaces config file: one entry per marketplace x country, validated with pydantic.

The DAG file calls :func:`load_config` at parse time, so everything here is cheap (YAML + pydantic,
no database, no network) and every error names the file, the entry and the key to fix.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ordersync.marketplaces import AMAZON_MARKETPLACES

_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "include" / "marketplaces.yaml"
CHANNELS = ("amazon", "cdiscount", "lengow")
# Countries each non-Amazon channel serves (Amazon's come from its marketplace table).
CHANNEL_COUNTRIES = {"cdiscount": ("FR",), "lengow": ("FR", "DE", "IT", "ES", "UK", "BE", "NL")}
# Marketplaces where an order must be accepted before it can be shipped (their channels implement
# AcceptFirstChannel: tests/unit/test_channel_registry.py holds the two together).
ACCEPT_FIRST = frozenset({"cdiscount", "lengow"})
# Octopia's id of the Cdiscount sales channel. Unconfirmed: it is the salesChannel.id of the one
# sample order Octopia publishes (order ids start with it); Octopia lists no sales channel ids.
CDISCOUNT_SALES_CHANNEL = "SCID01"


class ConfigError(ValueError):
    """A config problem, worded so the user knows which file, entry and key to fix."""


class Entry(BaseModel):
    """One marketplace x country: what to read, where to write, how to import."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    marketplace: Literal["amazon", "cdiscount", "lengow"]
    country: str
    conn_id: str = Field(description="Airflow connection holding the marketplace credentials")
    shop_conn_id: str = Field(
        "ordersync_shop",
        description="Airflow connection of the shop database (default: SQLite under AIRFLOW_HOME)",
    )
    name: str | None = Field(None, description="suffix for a second account in the same country")
    enabled: bool = True
    schedule: str = "*/30 * * * *"
    start_date: date = date(2026, 1, 1)
    # Amazon answers for times at least two minutes old (its lastUpdatedBefore rule; runs end
    # there): 20 minutes is ten times that, and a 50-minute window of a 2,000-a-day seller is one page
    overlap_minutes: int = Field(20, ge=0, le=7 * 24 * 60)
    page_size: int = Field(100, ge=1, le=100)
    # a transaction per batch: bigger batches spread each statement's fixed cost over more orders
    import_batch: int = Field(500, ge=1, le=5000, description="staged orders imported per transaction")
    lookback: timedelta | None = Field(
        None, description="each run reads at least this far back from its end ('36h', '3d' or hours)"
    )
    # -- matching products
    sku_source: Literal["sku", "ean", "supplier_reference"] = "sku"
    prioritise_asin: bool = False
    fba_prioritise_asin: bool | None = None  # None: same as prioritise_asin
    import_unavailable: bool = True  # out of stock / inactive products: import, flag, stock may go negative
    # -- what imported orders look like in the shop
    create_orders: bool = True  # false: only record marketplace orders for review (order grid)
    fba_extra_days: int = Field(
        2, ge=0, le=30, description="FBA orders are read again this many days later (the run's window shifted back)"
    )
    recovery_days: int = Field(3, ge=1, le=30, description="the daily recovery re-reads this many days")
    reconcile_days: int = Field(
        35, ge=1, le=3660, description="the daily reconciliation covers the purchases of this many last days"
    )
    onboarding: Literal["unshipped", "none"] = Field(
        "unshipped",
        description="first run of the entry: 'unshipped' imports every open (unshipped) order whatever its age",
    )
    order_status: str = Field("processing", min_length=1)
    payment_status: str = Field("paid", min_length=1)
    cancelled_status: str = Field("cancelled", min_length=1)
    import_carrier_map: dict[str, str] = Field(default_factory=dict)  # marketplace service -> shop carrier
    import_default_carrier: str | None = None
    fake_email: bool = True  # the shop never e-mails marketplace buyers
    require_tax_id: bool = False  # the shop needs a tax id (DNI) on every customer
    fake_tax_id: bool = True  # ... and then uses 00000 when the order has none
    # -- Amazon-fulfilled (FBA) orders
    import_fba: bool = False
    fba_order_status: str = Field("shipped_by_marketplace", min_length=1)
    fba_placeholder: bool = False  # import FBA orders with no matching product as a hidden {FBA} product
    # -- pending orders
    reserve_pending: bool = True
    reservation_expiry: timedelta = Field(timedelta(days=14), description="release reservations older than this")
    # -- fulfillment
    shipped_status: str = Field("shipped", min_length=1)
    carrier_map: dict[str, str] = Field(default_factory=dict)  # shop carrier -> marketplace carrier code
    default_carrier: str = "Other"
    tags: tuple[str, ...] = ()
    # -- accept-first channels (Cdiscount, Lengow)
    # stock: accept when every line matches a shop product with enough stock, else refuse;
    # always: accept every order (the merchant sorts out stock himself)
    accept_policy: Literal["stock", "always"] = "stock"
    tracking_url: str | None = Field(
        None, description="Cdiscount and Lengow: tracking URL sent with each parcel, '{tracking_number}' and '{carrier}' filled in"
    )
    lengow_marketplace: str | None = Field(
        None, description="Lengow's code of the marketplace this entry reads, e.g. amazon_fr, cdiscount"
    )
    sales_channel: str | None = Field(
        CDISCOUNT_SALES_CHANNEL,
        description="Cdiscount: Octopia's salesChannel.id the entry reads (orders of other sales channels of the "
        "seller account are listed as not imported); null reads every sales channel as this entry",
    )
    # -- Airflow retries of a failed task (after the hook's own retries of 5xx and network errors)
    retries: int = Field(2, ge=0, le=10)
    retry_delay: timedelta = Field(timedelta(minutes=2), description="first wait before a retry ('2m', '30s'); doubles")

    @field_validator("lookback", "reservation_expiry", "retry_delay", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """``36h``, ``3d``, ``90m``, ``30s`` or a number of hours."""
        if value is None or isinstance(value, timedelta):
            return value
        if isinstance(value, bool):
            raise ValueError("expected a duration such as '36h' or '3d'")
        if isinstance(value, int | float):
            hours = float(value)
        else:
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
            if not match:
                raise ValueError(f"expected a duration such as '36h', '3d', '90m' or '30s', got {value!r}")
            number, unit = float(match.group(1)), match.group(2) or "h"
            hours = number * {"s": 1 / 3600, "m": 1 / 60, "h": 1, "d": 24}[unit]
        if hours <= 0:
            raise ValueError("must be positive")
        return timedelta(hours=hours)

    @property
    def fba_asin_first(self) -> bool:
        return self.prioritise_asin if self.fba_prioritise_asin is None else self.fba_prioritise_asin

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str, info: ValidationInfo) -> str:
        code = str(value).upper()
        code = "UK" if code == "GB" else code
        known = CHANNEL_COUNTRIES.get(info.data.get("marketplace") or "amazon", tuple(AMAZON_MARKETPLACES))
        if code not in known:
            raise ValueError(f"unknown country {value!r}; known: {', '.join(sorted(known))}")
        return code

    @field_validator("lengow_marketplace")
    @classmethod
    def _lengow_code(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9_]{2,32}", value):
            raise ValueError("use Lengow's marketplace code: lowercase letters, digits, underscores (amazon_fr)")
        return value

    @field_validator("sales_channel")
    @classmethod
    def _sales_channel_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", value):
            raise ValueError("use Octopia's sales channel id: letters, digits, '_' or '-' (e.g. SCID01)")
        return value

    @model_validator(mode="after")
    def _channel_keys(self) -> Entry:
        if self.marketplace != "cdiscount" and "sales_channel" in self.model_fields_set:
            raise ValueError("sales_channel only applies to marketplace: cdiscount")
        if self.marketplace == "lengow" and not self.lengow_marketplace:
            raise ValueError("a lengow entry needs lengow_marketplace (Lengow's code, e.g. amazon_fr)")
        if self.marketplace != "lengow" and self.lengow_marketplace:
            raise ValueError("lengow_marketplace only applies to marketplace: lengow")
        return self

    @property
    def accepts_first(self) -> bool:
        """Channels where an order must be accepted before it can be shipped."""
        return self.marketplace in ACCEPT_FIRST

    @field_validator("schedule")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter  # shipped with Airflow; cheap

        if not croniter.is_valid(value):
            raise ValueError(f"not a valid cron expression: {value!r}")
        return value

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9_]+", value):
            raise ValueError("use lowercase letters, digits and underscores")
        return value

    @property
    def key(self) -> str:
        """Stable id of the entry: ``amazon_it`` or ``amazon_it_<name>``."""
        base = f"{self.marketplace}_{self.country.lower()}"
        if self.lengow_marketplace:  # one DAG per Lengow account x marketplace
            base = f"lengow_{self.lengow_marketplace}" + ("" if self.lengow_marketplace.endswith(f"_{self.country.lower()}") else f"_{self.country.lower()}")
        return f"{base}_{self.name}" if self.name else base

    @property
    def dag_id(self) -> str:
        return f"ordersync_{self.key}"


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entries: tuple[Entry, ...]
    path: str = ""
    # entries set aside for an error (file, entry and key named): their DAGs are not built, the
    # others run; dags/ordersync_config_check.py shows them as an import error in the UI
    rejected: tuple[str, ...] = ()

    @property
    def enabled(self) -> list[Entry]:
        return [e for e in self.entries if e.enabled]

    def entry(self, key: str) -> Entry:
        for e in self.entries:
            if e.key == key:
                return e
        raise ConfigError(f"{self.path}: no entry {key!r}")

    def raise_rejected(self) -> None:
        """Fail naming every entry set aside (the config check DAG file calls this)."""
        if self.rejected:
            raise ConfigError("\n".join(self.rejected))


def config_path() -> Path:
    return Path(os.environ.get("ORDERSYNC_CONFIG", DEFAULT_CONFIG))


def strict_config() -> bool:
    """``ORDERSYNC_STRICT_CONFIG=1``: one bad entry fails the whole file (CI), not only its DAG."""
    return os.environ.get("ORDERSYNC_STRICT_CONFIG", "").strip().lower() in ("1", "true", "yes")


def load_config(path: str | os.PathLike[str] | None = None, *, strict: bool | None = None) -> Config:
    """Read and validate the YAML file; errors name the file, the entry and the key.

    A bad entry is set aside (``Config.rejected``) and the others load, so one typo never stops
    every DAG; with ``strict`` (default :func:`strict_config`) it raises :class:`ConfigError`.
    A file that cannot be read at all always raises.
    """
    strict = strict_config() if strict is None else strict
    path = Path(path) if path is not None else config_path()
    try:
        # libyaml's loader when PyYAML has it: the pure-Python one is most of a 200-entry parse
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found (set ORDERSYNC_CONFIG to point elsewhere)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'defaults' and 'entries'")
    unknown = set(raw) - {"defaults", "entries"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key {sorted(unknown)[0]!r} (allowed: defaults, entries)")
    defaults = raw.get("defaults") or {}
    entries = raw.get("entries") or []
    if not isinstance(defaults, dict) or not isinstance(entries, list):
        raise ConfigError(f"{path}: 'defaults' must be a mapping and 'entries' a list")

    parsed: list[Entry] = []
    rejected: list[str] = []
    keys: set[str] = set()
    lengow: dict[tuple[str, str], str] = {}
    for index, item in enumerate(entries):
        problem, entry = _read_entry(path, index, item, defaults, keys, lengow)
        if entry is not None:
            parsed.append(entry)
            continue
        message = problem or f"{path}: entry #{index + 1} could not be read"
        if strict:
            raise ConfigError(message)
        rejected.append(message)
    return Config(entries=tuple(parsed), path=str(path), rejected=tuple(rejected))


def _read_entry(
    path: Path, index: int, item: Any, defaults: dict[str, Any], keys: set[str], lengow: dict[tuple[str, str], str]
) -> tuple[str | None, Entry | None]:
    """(None, the entry) or (what is wrong with it, None); ``keys`` and ``lengow`` remember the
    entries read before."""
    if not isinstance(item, dict):
        return f"{path}: entry #{index + 1} must be a mapping", None
    label = _label(item, index)
    try:
        entry = Entry(**{**defaults, **item})
    except ValidationError as exc:
        return _explain(path, label, exc, set(item)), None
    if entry.key in keys:
        return f"{path}: {label}: two entries have the id {entry.key!r}: add a distinct 'name'", None
    if entry.marketplace == "lengow":
        # the shop tables key orders by (marketplace, country): two Lengow marketplaces of one
        # country in one shop database would read each other's orders
        where = (entry.shop_conn_id, entry.country)
        if where in lengow:
            return (f"{path}: {label}: lengow entries {lengow[where]!r} and {entry.key!r} share country "
                    f"{entry.country} and shop database {entry.shop_conn_id!r}: only one Lengow marketplace "
                    "per country and shop"), None
        lengow[where] = entry.key
    keys.add(entry.key)
    return None, entry


def _label(item: dict[str, Any], index: int) -> str:
    name = f"{item.get('marketplace', '?')}_{str(item.get('country', '?')).lower()}"
    if item.get("name"):
        name += f"_{item['name']}"
    return f"entry #{index + 1} ({name})"


def _explain(path: Path, label: str, exc: ValidationError, own_keys: set[str]) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "?"
        inherited = err["type"] != "missing" and key.split(".")[0] not in own_keys
        where = " (inherited from defaults)" if inherited else ""
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"{path}: {label}: key {key!r}{where}: {msg}")
    return "\n".join(lines)
