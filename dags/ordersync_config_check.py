"""ordersync config check: builds no Airflow DAG, and fails its import while an entry of the
marketplaces config is set aside, so the UI's import errors name the file, the entry and the key.

The entries' own DAGs live in ordersync_dags.py: a bad entry only loses its DAG there, every
other one keeps running (set ORDERSYNC_STRICT_CONFIG=1 to fail the whole file instead).
"""

from ordersync.config import load_config

load_config().raise_rejected()
