#!/usr/bin/env bash
# make demo: sandbox marketplace -> Airflow DAG runs -> shop database -> summary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sandbox-env.sh
source scripts/dags-test.sh
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
# Tasks run through the executor, as under a scheduler, so each writes the log file the UI shows
# (`make airflow` afterwards lists these runs with their logs); the executor's workers reach the
# execution API of an API server started for the demo on a free port.
API_PORT=$(python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
export AIRFLOW__API__BASE_URL="http://localhost:$API_PORT" AIRFLOW__CORE__PARALLELISM=4
airflow api-server --port "$API_PORT" > "$AIRFLOW_HOME/demo-api-server.log" 2>&1 &
API_PID=$!
stop_all() { kill "$API_PID" 2>/dev/null; wait "$API_PID" 2>/dev/null; stop_sandbox; }
trap stop_all EXIT
for _ in $(seq 1 120); do
  if python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "$AIRFLOW__API__BASE_URL/api/v2/version" > /dev/null 2>&1; then break; fi
  if ! kill -0 "$API_PID" 2>/dev/null; then cat "$AIRFLOW_HOME/demo-api-server.log"; exit 1; fi
  sleep 1
done

# the newest run's task logs (the files the UI reads) -> the lines matching $2
show_counts() {
  local run; run=$(ls -td "$AIRFLOW_HOME/logs/dag_id=$1"/run_id=* 2>/dev/null | head -1)
  [ -n "$run" ] && cat "$run"/task_id=*/attempt=*.log | grep -oE "$2" | sed 's/^/     /' || true
}

dags=$(python -c "from ordersync.config import load_config; print(' '.join(e.dag_id for e in load_config().enabled))")
run_all() {
  for dag in $dags; do
    echo "-- airflow dags test $dag ($1)"
    # first import: look back over the sandbox's three days of orders
    if ! dags_test "$dag" "$AIRFLOW_HOME/$dag.log" -c '{"lookback_hours": 72}'; then
      tail -40 "$AIRFLOW_HOME/$dag.log"; echo "DAG run failed: see $AIRFLOW_HOME/$dag.log"; exit 1
    fi
    # each step logs the counts it returns as XCom, in its task's log file
    show_counts "$dag" "(lookup|accept|import|fulfillment) [a-z0-9_]+ counts: \{[^}]*\}"
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
if ! dags_test ordersync_recovery "$AIRFLOW_HOME/ordersync_recovery.log"; then
  tail -40 "$AIRFLOW_HOME/ordersync_recovery.log"; echo "recovery failed: see $AIRFLOW_HOME/ordersync_recovery.log"; exit 1
fi
show_counts ordersync_recovery "(recheck|doublecheck) [a-z0-9_]+ counts: \{[^}]*\}"

echo
echo "== reconciliation: marketplace orders vs shop orders"
export ORDERSYNC_REPORTS_DIR="$PWD/reports"
if ! dags_test ordersync_reconciliation "$AIRFLOW_HOME/ordersync_reconciliation.log"; then
  tail -40 "$AIRFLOW_HOME/ordersync_reconciliation.log"; echo "reconciliation failed: see $AIRFLOW_HOME/ordersync_reconciliation.log"; exit 1
fi
show_counts ordersync_reconciliation "reconciliation totals: \{[^}]*\}"
echo "report: $ORDERSYNC_REPORTS_DIR/reconciliation_latest.html (CSV beside it, table 'reconciliation' in the shop DB)"
