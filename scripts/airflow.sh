#!/usr/bin/env bash
# make airflow: the Airflow UI on http://localhost:8080 with the sandbox marketplace behind the DAGs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/sandbox-env.sh
mkdir -p "$AIRFLOW_HOME"
airflow db migrate > "$AIRFLOW_HOME/migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/migrate.log"; exit 1; }
install_connections
python -m ordersync db upgrade
# one pool per seller account x API region, sized from the usage plan
python -m ordersync pools > "$AIRFLOW_HOME/pools.json"
airflow pools import "$AIRFLOW_HOME/pools.json" > /dev/null
python -m ordersync demo seed-products
start_sandbox
trap stop_sandbox EXIT
# The UI's port: AIRFLOW__API__PORT (default 8080). Tasks reach the execution API through
# AIRFLOW__API__BASE_URL, so it must follow the port or every task fails with "connection refused".
API_PORT="${AIRFLOW__API__PORT:-8080}"
export AIRFLOW__API__PORT="$API_PORT"
export AIRFLOW__API__BASE_URL="${AIRFLOW__API__BASE_URL:-http://localhost:$API_PORT}"
echo "Airflow UI: $AIRFLOW__API__BASE_URL  user: admin"
echo "password: in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated (written at first start)"
# The components under a supervisor instead of `airflow standalone`, which never restarts one
# that dies (scripts/supervise.py says why); each logs to its own file in $AIRFLOW_HOME.
echo "logs: $AIRFLOW_HOME/{api-server,scheduler,dag-processor,triggerer}.log; restarts: $AIRFLOW_HOME/restarts.log"
python scripts/supervise.py \
  "api-server=bash -c 'exec airflow api-server --port $API_PORT >> $AIRFLOW_HOME/api-server.log 2>&1'" \
  "scheduler=bash -c 'exec airflow scheduler >> $AIRFLOW_HOME/scheduler.log 2>&1'" \
  "dag-processor=bash -c 'exec airflow dag-processor >> $AIRFLOW_HOME/dag-processor.log 2>&1'" \
  "triggerer=bash -c 'exec airflow triggerer >> $AIRFLOW_HOME/triggerer.log 2>&1'"
