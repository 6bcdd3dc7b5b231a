# Sourced by the demo scripts: the local sandbox marketplace, and the Airflow connections pointing
# at it (written to Airflow's metadata database, so the Connections page shows and edits them).
SANDBOX_URL="http://127.0.0.1:${SANDBOX_PORT:-8765}"
# The sandbox enforces Amazon's usage plans this many times faster; the connection paces to match.
SANDBOX_TIME_SCALE="${SANDBOX_TIME_SCALE:-100}"

install_connections() {
  python -m ordersync demo connections "$SANDBOX_URL" --shop "$AIRFLOW_HOME/ordersync_shop.db" \
    --rate-scale "$SANDBOX_TIME_SCALE"
}
start_sandbox() {
  python -m ordersync.sandbox --host 127.0.0.1 --port "${SANDBOX_PORT:-8765}" --countries IT,FR,DE \
    --usage-plans --time-scale "$SANDBOX_TIME_SCALE" "$@" \
    > "$AIRFLOW_HOME/sandbox.log" 2>&1 &
  SANDBOX_PID=$!
  for _ in $(seq 1 100); do
    if python -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
        "$SANDBOX_URL/_admin/health" > /dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SANDBOX_PID" 2>/dev/null; then cat "$AIRFLOW_HOME/sandbox.log"; return 1; fi
    sleep 0.2
  done
  echo "sandbox did not start; see $AIRFLOW_HOME/sandbox.log"; return 1
}

stop_sandbox() {
  if [ -n "${SANDBOX_PID:-}" ]; then kill "$SANDBOX_PID" 2>/dev/null; wait "$SANDBOX_PID" 2>/dev/null; fi
  SANDBOX_PID=
}
