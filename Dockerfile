# The image docker-compose.yaml runs: the official Airflow image plus ordersync's locked requirements.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /opt/ordersync/
RUN pip install --no-cache-dir -r /opt/ordersync/requirements.txt -c /opt/ordersync/constraints.txt
ENV PYTHONPATH=/opt/airflow/plugins
