# Sourced by the demo scripts: Airflow connections pointing at the local sandbox marketplace.
# These are the sandbox's own demo credentials, not secrets; real ones go in Airflow connections.
SANDBOX_URL="http://127.0.0.1:${SANDBOX_PORT:-8765}"
# The sandbox enforces Amazon's usage plans this many times faster; the connection paces to match.
SANDBOX_TIME_SCALE="${SANDBOX_TIME_SCALE:-100}"
export AIRFLOW_CONN_AMAZON_EU="{\"conn_type\": \"http\", \"host\": \"${SANDBOX_URL}\", \"login\": \"sandbox-client-id\", \"password\": \"sandbox-client-secret\", \"extra\": {\"refresh_token\": \"sandbox-refresh-token\", \"lwa_url\": \"${SANDBOX_URL}/auth/o2/token\", \"rate_scale\": ${SANDBOX_TIME_SCALE}}}"
export AIRFLOW_CONN_CDISCOUNT="{\"conn_type\": \"http\", \"host\": \"${SANDBOX_URL}/octopia\", \"login\": \"sandbox-octopia-client\", \"password\": \"sandbox-octopia-secret\", \"extra\": {\"seller_id\": \"123456\", \"token_url\": \"${SANDBOX_URL}/octopia/auth/token\"}}"
export AIRFLOW_CONN_LENGOW="{\"conn_type\": \"http\", \"host\": \"${SANDBOX_URL}/lengow\", \"login\": \"sandbox-lengow-access\", \"password\": \"sandbox-lengow-secret\"}"

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
