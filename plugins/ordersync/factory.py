"""Build one Airflow DAG per enabled config entry: ``lookup >> accept >> import >> fulfillment``.

Called by the DAG file at every parse, so it only reads the YAML and creates DAG objects: no
database, no network, no heavy imports.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Param
from airflow.timetables.interval import CronDataIntervalTimetable

from ordersync.assets import ORDERS_IMPORTED, ORDERS_RECOVERED
from ordersync.config import Config, Entry
from ordersync.pools import STEP_USE, pool_name
from ordersync.operators import (
    AcceptOrdersOperator,
    FulfillOrdersOperator,
    ImportOrdersOperator,
    LookupOrdersOperator,
    ManualActionOperator,
    ReconcileOperator,
    ReconciliationCheckOperator,
    RecoverOrdersOperator,
    RecoverySummaryOperator,
)

DEFAULT_ARGS = {
    "owner": "ordersync",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": True,
}


def _doc(entry: Entry, config_path: str) -> str:
    return f"""### {entry.marketplace.title()} {entry.country}

Keeps **{entry.marketplace} {entry.country}** orders and the shop database in sync
(entry `{entry.key}` of `{config_path}`).

1. **lookup** stages every order updated in the run's data interval (widened back by
   {entry.overlap_minutes} min) in the shop database;
2. **accept** answers orders waiting for acceptance (Cdiscount, Lengow: policy
   `{entry.accept_policy}`; nothing to do on Amazon);
3. **import** creates customers, orders, lines and stock moves; orders that cannot be imported
   go to the not-imported list with their reason and are retried by the next runs;
4. **fulfillment** confirms orders in shop status `{entry.shipped_status}` with their tracking
   number, once per package.

Each task's XCom holds its counts. Trigger with `lookback_hours` to re-read the last N hours.
Credentials: Airflow connection `{entry.conn_id}`; shop database: `{entry.shop_conn_id}`.
"""


def build_entry_dag(entry: Entry, config_path: str) -> DAG:
    start = datetime.combine(entry.start_date, datetime.min.time(), tzinfo=timezone.utc)
    with DAG(
        dag_id=entry.dag_id,
        description=f"Sync {entry.marketplace} {entry.country} orders with the shop database",
        # data intervals must be real windows: the plain cron timetable gives zero-width ones
        schedule=CronDataIntervalTimetable(entry.schedule, timezone="UTC"),
        start_date=start,
        catchup=False,
        max_active_runs=1,
        default_args={**DEFAULT_ARGS, "retries": entry.retries, "retry_delay": entry.retry_delay},
        tags=["ordersync", entry.marketplace, entry.country.lower(), *entry.tags],
        doc_md=_doc(entry, config_path),
        params={
            "lookback_hours": Param(
                None,
                type=["null", "number"],
                minimum=0,
                description="Read the last N hours before the interval end instead of the interval",
            ),
            "own_window": Param(
                False,
                type="boolean",
                description="Read exactly this run's interval for this country (as a backfill does), "
                "not the seller's region-wide listing",
            ),
        },
    ) as dag:
        # every task takes a slot of the seller x region pool of its use: reading (lookup) apart
        # from importing and confirming, so a lookup sleeping on the limiter never holds them up
        common: dict[str, Any] = {"entry_key": entry.key, "config_path": config_path}
        lookup = LookupOrdersOperator(task_id="lookup", pool=pool_name(entry, STEP_USE["lookup"]), **common)
        accept = AcceptOrdersOperator(task_id="accept", pool=pool_name(entry, STEP_USE["accept"]), **common)
        import_ = ImportOrdersOperator(task_id="import", outlets=[ORDERS_IMPORTED],
                                       pool=pool_name(entry, STEP_USE["import"]), **common)
        fulfillment = FulfillOrdersOperator(task_id="fulfillment", pool=pool_name(entry, STEP_USE["fulfillment"]), **common)
        lookup >> accept >> import_ >> fulfillment
    return dag


ACTIONS_DAG_ID = "ordersync_actions"
# kept in step with ordersync.steps.MANUAL_ACTIONS (not imported: steps is heavy for a parse)
ACTIONS = ("import", "reimport", "resend_fulfillment", "resync_mapping", "accept", "refuse", "cancel")

_ACTIONS_DOC = """### Manual actions on marketplace orders

Trigger with the form: pick the **entry**, the **action** and the marketplace **order ids**.

| action | what it does |
|---|---|
| `import` | reads the orders from the marketplace now and imports them (a window missed them) |
| `reimport` | the same after fixing a product: also orders skipped, waiting or not imported before |
| `resend_fulfillment` | sends again shipment confirmations the marketplace refused (never a confirmed one) |
| `resync_mapping` | re-reads the orders and maps them to their shop order; with one order id and a `shop_order_number`, sets the shop's own number |
| `accept` / `refuse` | Cdiscount and Lengow: answers orders waiting for acceptance whatever the stock (each order is answered once) |
| `cancel` | Lengow: asks the marketplace to cancel the orders (once); the next runs cancel the shop orders |

Every action is idempotent: running it twice creates no second order, stock move or confirmation.
The task's XCom holds the counts.
"""


def build_actions_dag(config: Config) -> DAG | None:
    """One manual-actions DAG for all entries: the Airflow trigger form is the merchant's UI."""
    keys = [entry.key for entry in config.enabled]
    if not keys:
        return None
    with DAG(
        dag_id=ACTIONS_DAG_ID,
        description="Manual actions: import, re-import, resend fulfillment, re-synchronise mapping, accept, refuse, cancel",
        schedule=None,
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        default_args={**DEFAULT_ARGS, "retries": 0},  # a person is watching: show the error at once
        tags=["ordersync", "manual"],
        doc_md=_ACTIONS_DOC,
        params={
            "entry": Param(keys[0], type="string", enum=keys, description="marketplace x country entry"),
            "action": Param("import", type="string", enum=list(ACTIONS), description="what to do"),
            "order_ids": Param(
                [], type="array", minItems=1,
                # no spaces, at most 64 printable characters; each marketplace's own format
                # (Amazon 402-1234567-1234567) is checked when the run starts
                items={"type": "string", "pattern": "^[!-~]{1,64}$"},
                description="marketplace order ids, one per line (Amazon: 402-1234567-1234567)",
            ),
            "shop_order_number": Param(None, type=["null", "string"], description="resync_mapping of one order: the shop's order number"),
        },
    ) as dag:
        ManualActionOperator(
            task_id="action",
            entry_key="{{ params.entry }}",
            action="{{ params.action }}",
            config_path=config.path,
        )
    return dag


RECOVERY_DAG_ID = "ordersync_recovery"
RECOVERY_SCHEDULE = "0 4 * * *"  # daily, before the data team's 06:00 report


def build_recovery_dag(config: Config) -> DAG:
    """Daily recheck / doublecheck of every enabled entry, one task group per entry.

    Groups do not depend on each other, so one entry failing never hides the others; the summary
    runs once all are done (whatever their state) and emits the recovery asset.
    """
    from airflow.sdk import TaskGroup

    with DAG(
        dag_id=RECOVERY_DAG_ID,
        description="Daily recovery: recheck FBA orders, doublecheck merchant orders, import what is missing",
        schedule=CronDataIntervalTimetable(RECOVERY_SCHEDULE, timezone="UTC"),
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ordersync", "recovery"],
        doc_md="""### Daily recovery

For every entry, over the last `recovery_days` (default 3) before the run's data interval end:

- **recheck** lists Amazon-fulfilled (FBA) orders, widened by `fba_extra_days` (entries with
  `import_fba` only): Amazon lists some of them days late;
- **doublecheck** lists merchant-fulfilled orders: any order a regular window missed.

Only orders missing from the shop are imported; orders already there only have their status
compared (cancelled or shipped on the marketplace after import). On Amazon each kind is one
listing per seller x region: the first task lists every country, the others import what it
staged for theirs (`covered: 1`). Listings cost one request per
100 orders, no per-order call; tasks use the entry's reading pool and the shared usage-plan limiter.
XCom per task: `listed`, `already_present`, `recovered`, `status_updates`, `not_imported`.
""",
    ) as dag:
        checks = []
        for entry in config.enabled:
            common: dict[str, Any] = {"entry_key": entry.key, "config_path": config.path,
                                      "pool": pool_name(entry, STEP_USE["doublecheck"]),
                                      "retries": entry.retries, "retry_delay": entry.retry_delay}
            with TaskGroup(group_id=entry.key):
                if entry.marketplace == "amazon" and entry.import_fba:
                    checks.append(RecoverOrdersOperator(task_id="recheck", kind="recheck", **common))
                checks.append(RecoverOrdersOperator(task_id="doublecheck", kind="doublecheck", **common))
        summary = RecoverySummaryOperator(task_id="summary", trigger_rule="all_done", outlets=[ORDERS_RECOVERED])
        checks >> summary
    return dag


RECONCILIATION_DAG_ID = "ordersync_reconciliation"


def build_reconciliation_dag(config: Config) -> DAG:
    """The data team's daily report: after imports and the recovery changed the shop, or at 06:00."""
    from airflow.sdk import AssetAll
    from airflow.timetables.assets import AssetOrTimeSchedule
    from airflow.timetables.trigger import CronTriggerTimetable

    with DAG(
        dag_id=RECONCILIATION_DAG_ID,
        description="Marketplace orders vs shop orders, per marketplace x country x day",
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("0 6 * * *", timezone="UTC"),
            # the SDK's AssetAll is what DAG authors pass; the timetable's stub names the serialized kind
            assets=AssetAll(ORDERS_IMPORTED, ORDERS_RECOVERED),  # type: ignore[arg-type]
        ),
        start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["ordersync", "reconciliation"],
        params={
            "full_history": Param(
                False, type="boolean",
                description="every purchase day of the history instead of each entry's reconcile_days (35 by default)",
            ),
        },
        doc_md="""### Reconciliation

Compares every marketplace order seen (lookup and recovery) with the shop database, per
marketplace x country x purchase day: orders expected, imported, missing (with a reason or
**unexplained**), duplicated orders, stock moves and confirmations, status and amount drift.
Covers the purchase days that can still change (each entry's `reconcile_days`, 35 by default);
trigger with `{"full_history": true}` to recompute every day. Writes the `reconciliation` table
(one row per entry x day), a CSV and an HTML page (path in the `report` XCom). **check** fails when an order is lost or written twice, so Airflow alerts.
""",
    ) as dag:
        report = ReconcileOperator(task_id="report", config_path=config.path)
        check = ReconciliationCheckOperator(task_id="check", report_task_id="report")
        report >> check
    return dag


def build_dags(config: Config, only: str | None = None) -> dict[str, DAG]:
    """Every enabled entry's DAG, and the manual-actions, recovery and reconciliation DAGs, by DAG id.

    ``only`` is the DAG a task process runs (Airflow's parsing context): then only that DAG is
    built, not every entry's (a task of a 200-entry config would otherwise build 203 DAGs to run
    one). An id that names none of them builds them all, as the dag-processor needs.
    """
    if only is not None:
        for entry in config.enabled:
            if entry.dag_id == only:
                return {only: build_entry_dag(entry, config.path)}
        shared = {ACTIONS_DAG_ID: build_actions_dag, RECOVERY_DAG_ID: build_recovery_dag,
                  RECONCILIATION_DAG_ID: build_reconciliation_dag}
        if only in shared and config.enabled:
            dag = shared[only](config)
            if dag is not None:
                return {only: dag}
    dags = {entry.dag_id: build_entry_dag(entry, config.path) for entry in config.enabled}
    extras = (build_recovery_dag(config), build_reconciliation_dag(config)) if config.enabled else ()
    for extra in (build_actions_dag(config), *extras):
        if extra is not None:
            dags[extra.dag_id] = extra
    return dags
