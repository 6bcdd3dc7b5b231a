"""ordersync Airflow DAGs: one per enabled entry of include/marketplaces.yaml (see ordersync.factory).

Kept thin: parsing this file reads the YAML and builds DAG objects, nothing else. A bad entry loses
its own DAG only; ordersync_config_check.py shows it as an import error naming the file, the entry
and the key (ORDERSYNC_STRICT_CONFIG=1: the whole file fails instead). (Airflow's safe mode only
parses files that mention both "airflow" and "dag", as this docstring does.)
"""

from airflow.sdk import get_parsing_context

from ordersync.config import load_config
from ordersync.factory import build_dags

# a task process builds only the DAG it runs; the dag-processor (no context) builds them all
globals().update(build_dags(load_config(), only=get_parsing_context().dag_id))
