"""The sync steps as plain functions: lookup, accept, import, fulfill, recover (recheck, doublecheck).

Each takes a channel adapter, the shop store and the config entry, does its work page by page and
returns a dict of counts (what the Airflow operators push as XCom). No Airflow import here: the
steps run the same from a test, a CLI or a task.
"""

from ordersync.steps.accept import ACCEPT_COUNTS, accept, waiting_for_acceptance
from ordersync.steps.actions import MANUAL_ACTIONS, manual_action
from ordersync.steps.fulfillment import carrier_for, check_acknowledgements, fulfill
from ordersync.steps.imports import IMPORT_COUNTS, import_orders
from ordersync.steps.lookup import ONBOARDING_LOOKBACK, catch_up, lookup, own_scope, run_window
from ordersync.steps.recovery import RECOVERY_KINDS, recover, recovery_window
from ordersync.steps.region import Region, region_of

__all__ = [
    "ACCEPT_COUNTS", "IMPORT_COUNTS", "MANUAL_ACTIONS", "ONBOARDING_LOOKBACK", "RECOVERY_KINDS", "accept",
    "carrier_for", "catch_up", "check_acknowledgements", "fulfill", "import_orders", "lookup", "manual_action", "recover",
    "own_scope", "recovery_window", "Region", "region_of", "run_window", "waiting_for_acceptance",
]
