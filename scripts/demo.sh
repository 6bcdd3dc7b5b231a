#!/usr/bin/env bash
# make demo: sandbox marketplace -> Airflow DAG runs -> shop database -> summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sandbox-env.sh
mkdir -p "$AIRFLOW_HOME"
rm -f "$AIRFLOW_HOME/ordersync_shop.db"*  # each demo starts from an empty shop

echo "== Airflow metadata database ($AIRFLOW_HOME)"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/migrate.log"; exit 1; }
install_connections
python -m ordersync db upgrade
# one pool per seller account x API region, sized from the usage plan
python -m ordersync pools > "$AIRFLOW_HOME/pools.json"
airflow pools import "$AIRFLOW_HOME/pools.json" > /dev/null
python -m ordersync demo seed-products

echo "== sandbox marketplace on $SANDBOX_URL"
start_sandbox
trap stop_sandbox EXIT

dags=$(python -c "from ordersync.config import load_config; print(' '.join(e.dag_id for e in load_config().enabled))")
run_all() {
  for dag in $dags; do
    echo "-- airflow dags test $dag ($1)"
    # first import: look back over the sandbox's three days of orders
    if ! airflow dags test "$dag" -c '{"lookback_hours": 72}' > "$AIRFLOW_HOME/$dag.log" 2>&1; then
      tail -40 "$AIRFLOW_HOME/$dag.log"; echo "DAG run failed: see $AIRFLOW_HOME/$dag.log"; exit 1
    fi
    # each step logs the counts it returns as XCom
    grep -oE "(lookup|accept|import|fulfillment) [a-z0-9_]+ counts: \{[^}]*\}" "$AIRFLOW_HOME/$dag.log" | sed 's/^/     /' || true
  done
}

echo "== first runs: lookup, accept, import, fulfillment"
run_all "import"
echo "== the warehouse ships some orders"
for dag in $dags; do python -m ordersync demo ship "${dag#ordersync_}" 5; done
echo "== second runs: nothing new to import, shipments confirmed to the marketplace"
run_all "fulfillment"

echo
echo "== summary (from the shop database $AIRFLOW_HOME/ordersync_shop.db)"
python -m ordersync summary

echo
echo "== daily recovery: recheck (FBA) and doublecheck (merchant orders) over the last days"
if ! airflow dags test ordersync_recovery > "$AIRFLOW_HOME/ordersync_recovery.log" 2>&1; then
  tail -40 "$AIRFLOW_HOME/ordersync_recovery.log"; echo "recovery failed: see $AIRFLOW_HOME/ordersync_recovery.log"; exit 1
fi
grep -oE "(recheck|doublecheck) [a-z0-9_]+ counts: \{[^}]*\}" "$AIRFLOW_HOME/ordersync_recovery.log" | sed 's/^/     /' || true

echo
echo "== reconciliation: marketplace orders vs shop orders"
export ORDERSYNC_REPORTS_DIR="$PWD/reports"
if ! airflow dags test ordersync_reconciliation > "$AIRFLOW_HOME/ordersync_reconciliation.log" 2>&1; then
  tail -40 "$AIRFLOW_HOME/ordersync_reconciliation.log"; echo "reconciliation failed: see $AIRFLOW_HOME/ordersync_reconciliation.log"; exit 1
fi
grep -oE "reconciliation totals: \{[^}]*\}" "$AIRFLOW_HOME/ordersync_reconciliation.log" | sed 's/^/     /' || true
echo "report: $ORDERSYNC_REPORTS_DIR/reconciliation_latest.html (CSV beside it, table 'reconciliation' in the shop DB)"
