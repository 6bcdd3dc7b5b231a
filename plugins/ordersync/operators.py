"""Airflow operators: thin shells over :mod:`ordersync.steps`.

Each builds the pieces (config entry, shop store, channel adapter with its hook) from the config
file and Airflow connections, runs one step and returns its counts, which Airflow stores as the
task's XCom so the UI shows what every run did. Heavy modules (SQLAlchemy, requests, the adapters)
are imported inside ``execute`` so parsing the DAG file stays cheap.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from airflow.sdk import BaseOperator

from ordersync.config import load_config


@contextmanager
def person_must_fix():
    """Fail at once, without Airflow's retries, on what only a person can fix (a missing
    connection, wrong credentials, a config error, an action the marketplace lacks): retrying
    would only delay the alert. Network and 5xx errors keep their retries."""
    from ordersync.config import ConfigError
    from ordersync.errors import BadActionRequest, MarketplaceAuthError, MissingConnection, UnsupportedAction

    try:
        yield
    except (MissingConnection, MarketplaceAuthError, ConfigError, UnsupportedAction, BadActionRequest) as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from None


class OrderSyncOperator(BaseOperator):
    """Base for the step operators.

    :param entry_key: config entry id, e.g. ``amazon_it`` (templated).
    :param config_path: the marketplaces YAML (templated); default ``ORDERSYNC_CONFIG`` or the
        package's ``include/marketplaces.yaml``.
    """

    template_fields: tuple[str, ...] = ("entry_key", "config_path")
    step: str = ""

    def __init__(self, *, entry_key: str, config_path: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.entry_key = entry_key
        self.config_path = config_path

    def entry(self):
        return load_config(self.config_path).entry(self.entry_key)

    def region(self, entry):
        """The seller x region listing the entry shares with its siblings (Amazon), else None."""
        from ordersync import steps

        return steps.region_of(entry, load_config(self.config_path).enabled)

    @staticmethod
    def store(entry):
        from ordersync.hooks import ShopDatabaseHook
        from ordersync.shop.store import ShopStore

        store = ShopStore.from_url(ShopDatabaseHook(entry.shop_conn_id).get_url())
        store.migrate()
        return store

    @staticmethod
    def channel(entry, store=None):
        from ordersync.channels import build_channel

        return build_channel(entry, store)

    def execute(self, context: Any) -> dict[str, Any]:
        with person_must_fix():
            entry = self.entry()
            store = self.store(entry)
            try:
                counts, window = self.run_step(entry, store, context)
                store.record_run(entry, self.step, context["run_id"], counts, window)
            finally:
                store.engine.dispose()
        return counts

    def run_step(self, entry, store, context) -> tuple[dict[str, Any], Any]:
        raise NotImplementedError


class LookupOrdersOperator(OrderSyncOperator):
    """List the marketplace orders updated in the run's window and stage them in the shop DB.

    The window is the run's data interval widened back by the entry's ``overlap_minutes``; the
    run param ``lookback_hours`` replaces it with the last N hours before the interval's end.
    Amazon entries share one region-wide listing per seller x region (the first lookup of the
    interval makes it); a backfill run, ``lookback_hours``, the param ``own_window`` or an entry
    with ``lookback`` read exactly their own window instead.
    XCom: ``found`` (main count), ``new``, ``changed``, ``unchanged``, ``pages``; region-wide also
    ``region_found`` and ``covered``.
    """

    step = "lookup"

    def run_step(self, entry, store, context):
        from ordersync import steps
        from ordersync.channels.contract import AcceptFirstChannel
        from ordersync.shop.store import utcnow

        params = context.get("params") or {}
        window = steps.run_window(
            entry,
            context["data_interval_start"],
            context["data_interval_end"],
            lookback_hours=params.get("lookback_hours"),
        )
        run = context.get("dag_run")
        own = bool(params.get("lookback_hours") or params.get("own_window")) or entry.lookback is not None \
            or "backfill" in str(run.run_type if run is not None else "").lower()
        region = None if own else self.region(entry)
        watermark = None
        if not own and region is None:  # scheduled, listed on its own: catch up after failed runs
            window, watermark = steps.catch_up(store, entry, window), steps.own_scope(entry)
        self.log.info("reading %s orders updated %s .. %s", entry.key, window.start, window.end)
        channel = self.channel(entry, store)
        now = utcnow()
        counts = steps.lookup(channel, store, entry, window, now=now, region=region, watermark=watermark)
        # sync_runs keeps the span really read: the end clamped before now, or none when too recent
        read = channel.clamp(window, now)
        if isinstance(channel, AcceptFirstChannel):  # what accept is about to answer: ids, SKUs, quantities, stock
            counts["waiting_acceptance"] = steps.waiting_for_acceptance(channel, store, entry)
            for item in counts["waiting_acceptance"]:
                self.log.info("waiting for acceptance: %s %s", item["order_id"], item["lines"])
        return counts, read


class AcceptOrdersOperator(OrderSyncOperator):
    """Accept or refuse orders on marketplaces that want acceptance first (none for Amazon).

    XCom: ``accepted`` (main count), ``refused``, ``already_answered``, ``failed``, ``unreadable``.
    """

    step = "accept"

    def run_step(self, entry, store, context):
        from ordersync import steps
        from ordersync.channels.contract import AcceptFirstChannel

        if not entry.accepts_first:  # Amazon: nothing to accept, no credentials needed
            return steps.accept(None, store, entry), None
        channel = self.channel(entry, store)
        if not isinstance(channel, AcceptFirstChannel):
            raise TypeError(f"{entry.key}: the {entry.marketplace} channel does not implement acceptance")
        return steps.accept(channel, store, entry), None


class ImportOrdersOperator(OrderSyncOperator):
    """Create customers, orders, lines and stock moves for staged orders, page by page.

    XCom: ``imported`` (main count), ``already_imported``, ``not_imported``, ``waiting``,
    ``skipped``, ``stock_moves``.
    """

    step = "import"

    def run_step(self, entry, store, context):
        from ordersync import steps

        counts = steps.import_orders(self.channel(entry, store), store, entry)
        tell_outlets(context, self.outlets, {"entry": entry.key, **counts})
        return counts, None


class FulfillOrdersOperator(OrderSyncOperator):
    """Confirm to the marketplace the shop orders in the entry's shipped status, once each.

    XCom: ``confirmed`` (main count), ``rejected``, ``already_confirmed``, ``unsent``.
    """

    step = "fulfillment"

    def run_step(self, entry, store, context):
        from ordersync import steps
        from ordersync.channels.contract import AcceptFirstChannel

        channel = self.channel(entry, store)
        counts = steps.fulfill(channel, store, entry)
        if isinstance(channel, AcceptFirstChannel):  # shipments sent earlier: acknowledged, or not shipped
            counts.update(steps.check_acknowledgements(channel, store, entry))
        return counts, None


class RecoverOrdersOperator(OrderSyncOperator):
    """The daily recovery of one entry: ``recheck`` (FBA) or ``doublecheck`` (merchant orders).

    Re-lists the last ``recovery_days`` before the run's data interval end (plus
    ``fba_extra_days`` for recheck) and imports only what the shop lacks, updating drifted statuses.

    :param kind: ``recheck`` or ``doublecheck``.
    XCom: ``listed``, ``already_present``, ``recovered`` (main count), ``status_updates``,
    ``not_imported``, ``pages``.
    """

    def __init__(self, *, kind: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.kind = kind
        self.step = kind

    def run_step(self, entry, store, context):
        from ordersync import steps

        window = steps.recovery_window(entry, self.kind, context["data_interval_end"])
        self.log.info("%s %s: orders updated %s .. %s", self.kind, entry.key, window.start, window.end)
        return steps.recover(self.channel(entry, store), store, entry, self.kind, window,
                             region=self.region(entry)), window


class RecoverySummaryOperator(BaseOperator):
    """Sum the recovery counts of every entry once all are done (failed ones included).

    Emits the recovery asset, so the reconciliation runs on what recovery left. XCom: totals
    and ``failed_entries``.
    """

    def execute(self, context: Any) -> dict[str, Any]:
        ti = context["ti"]
        totals: dict[str, Any] = {"failed_entries": 0}
        for task_id in sorted(self.upstream_task_ids):
            counts = ti.xcom_pull(task_ids=task_id)
            if not counts:
                totals["failed_entries"] += 1
                continue
            for key, value in counts.items():
                totals[key] = totals.get(key, 0) + value
        tell_outlets(context, self.outlets, totals)
        return totals


class ManualActionOperator(OrderSyncOperator):
    """Run a merchant's manual action on named orders (the ``ordersync_actions`` DAG's trigger form).

    :param action: ``import``, ``reimport``, ``resend_fulfillment``, ``resync_mapping``, ``accept``,
        ``refuse`` or ``cancel`` (templated).
    Reads ``order_ids`` and ``shop_order_number`` from the run's params.
    XCom: ``action``, ``orders`` and the counts of the steps it ran.
    """

    template_fields = (*OrderSyncOperator.template_fields, "action")
    step = "action"

    def __init__(self, *, action: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.action = action

    def run_step(self, entry, store, context):
        from ordersync import steps

        params = context.get("params") or {}
        counts = steps.manual_action(
            self.channel(entry, store),
            store,
            entry,
            self.action,
            list(params.get("order_ids") or []),
            params.get("shop_order_number") or None,
        )
        missing = counts.get("missing_ids") or []
        if missing and len(missing) == counts["orders"]:
            # nothing happened: a green run here would tell the merchant it did
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(
                f"{entry.key}: none of the orders exists on {entry.marketplace}: {', '.join(missing)}"
            )
        if missing:
            self.log.warning("%s: %d of %d orders not found on %s: %s", entry.key, len(missing), counts["orders"],
                             entry.marketplace, ", ".join(missing))
        return counts, None


class ReconcileOperator(BaseOperator):
    """Build the reconciliation report for every enabled entry (table, CSV, HTML).

    :param config_path: the marketplaces YAML (templated).
    :param reports_dir: where the CSV and HTML go (templated): a folder, or an object storage URL
        (``s3://bucket/reports``...) written through Airflow's ``ObjectStoragePath``, so a report a
        Celery worker wrote is readable elsewhere; default ``ORDERSYNC_REPORTS_DIR`` or ``reports/``
        beside ``include/``.
    :param reports_conn_id: Airflow connection of the object storage (templated); default
        ``ORDERSYNC_REPORTS_CONN_ID``, none for a local folder.
    :param full_history: every purchase day instead of each entry's ``reconcile_days``; default:
        the DAG run's ``full_history`` param.
    XCom: the totals (``unexplained``, ``duplicated_orders``...), ``rows``, ``since``, ``csv``, ``html``.
    """

    template_fields = ("config_path", "reports_dir", "reports_conn_id")

    def __init__(
        self,
        *,
        config_path: str | None = None,
        reports_dir: str | None = None,
        reports_conn_id: str | None = None,
        full_history: bool | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.config_path = config_path
        self.reports_dir = reports_dir
        self.reports_conn_id = reports_conn_id
        self.full_history = full_history

    def execute(self, context: Any) -> dict[str, Any]:
        from ordersync import reconcile

        config = load_config(self.config_path)
        entries = config.enabled
        full = self.full_history
        if full is None:
            full = bool((context.get("params") or {}).get("full_history", False))
        by_shop: dict[str, list] = {}
        for entry in entries:
            by_shop.setdefault(entry.shop_conn_id, []).append(entry)
        totals: dict[str, Any] = {}
        for shop_conn_id, group in sorted(by_shop.items()):
            with person_must_fix():
                store = OrderSyncOperator.store(group[0])
            folder = reports_folder(self.reports_dir, shop_conn_id, len(by_shop), self.reports_conn_id)
            try:
                part = reconcile.reconcile(store, group, folder, full_history=full)
            finally:
                store.engine.dispose()
            for key, value in part.items():
                totals[key] = totals.get(key, 0) + value if isinstance(value, int) else value
        self.log.info("reconciliation report (%s): %s", "full history" if full else "window", totals.get("html"))
        return totals


class ReconciliationCheckOperator(BaseOperator):
    """Fail when the report found an order lost or written twice, so Airflow alerts.

    :param report_task_id: the task whose XCom holds the totals.
    """

    def __init__(self, *, report_task_id: str = "report", **kwargs: Any):
        super().__init__(**kwargs)
        self.report_task_id = report_task_id

    def execute(self, context: Any) -> dict[str, Any]:
        from ordersync import reconcile

        totals = context["ti"].xcom_pull(task_ids=self.report_task_id) or {}
        reconcile.check(totals)
        return {"gaps": 0}


def tell_outlets(context: Any, outlets: list[Any], extra: dict[str, Any]) -> None:
    """Put the task's counts (never buyer data) on the asset events it emits, so the asset's page
    and whatever the event triggers see what changed."""
    events = context.get("outlet_events")
    if events is None:
        return
    for asset in outlets or []:
        events[asset].extra = dict(extra)


def reports_folder(reports_dir: str | None, shop_conn_id: str, shops: int, conn_id: str | None = None):
    """The report folder as an Airflow ``ObjectStoragePath``: a URL as given, a plain path as ``file://``."""
    import os
    from pathlib import Path

    from airflow.sdk import ObjectStoragePath

    base = reports_dir or os.environ.get("ORDERSYNC_REPORTS_DIR") or str(Path(__file__).resolve().parents[2] / "reports")
    if "://" not in base:
        base = Path(base).resolve().as_uri()
    folder = ObjectStoragePath(base, conn_id=conn_id or os.environ.get("ORDERSYNC_REPORTS_CONN_ID") or None)
    return folder / shop_conn_id if shops > 1 else folder
