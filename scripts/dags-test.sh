# shellcheck shell=bash
# Sourced by scripts/demo.sh.

# `airflow dags test --use-executor DAG [ARGS]`, output to LOG. Airflow's LocalExecutor can hang
# at its shutdown, the run already over: end() joins a worker still waiting for its stop message
# (apache/airflow#45683, a race in the executor). Workers still idle 30 s after the shutdown began
# (DAGS_TEST_GRACE, seconds) are stopped, and it says so; the exit status stays the command's.
dags_test() {
  local dag=$1 log=$2; shift 2
  airflow dags test --use-executor "$dag" "$@" > "$log" 2>&1 &
  local pid=$! grace=${DAGS_TEST_GRACE:-30}
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1  # first: a command that logs its shutdown and exits at once is never stopped
    kill -0 "$pid" 2>/dev/null || break
    if grep -q "Shutting down LocalExecutor" "$log" && [ $((grace -= 1)) -le 0 ]; then
      echo "     ($dag has ended but Airflow's LocalExecutor did not stop its idle workers: stopping them, apache/airflow#45683)"
      pkill -P "$pid" -f "LocalExecutor: <idle>" || true
      grace=${DAGS_TEST_GRACE:-30}
    fi
  done
  wait "$pid"
}
