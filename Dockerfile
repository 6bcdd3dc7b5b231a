# The images docker-compose.yaml runs: the official Airflow image plus the ordersync package
# (runtime dependencies only, locked by constraints.txt). `sandbox` adds the sandbox marketplace.
FROM apache/airflow:3.3.2-python3.11 AS runtime
COPY --chown=airflow:root pyproject.toml README.md constraints.txt /opt/ordersync/
COPY --chown=airflow:root plugins/ordersync /opt/ordersync/plugins/ordersync
RUN pip install --no-cache-dir /opt/ordersync -c /opt/ordersync/constraints.txt

FROM runtime AS sandbox
RUN pip install --no-cache-dir "/opt/ordersync[sandbox]" -c /opt/ordersync/constraints.txt
