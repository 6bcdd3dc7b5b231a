"""ordersync Airflow DAGs: one per enabled entry of include/marketplaces.yaml (see ordersync.factory).

Kept thin: parsing this file reads the YAML and builds DAG objects, nothing else. A config error
fails the import with a message naming the file, the entry and the key. (Airflow's safe mode only
parses files that mention both "airflow" and "dag", as this docstring does.)
"""

from ordersync.config import load_config
from ordersync.factory import build_dags

globals().update(build_dags(load_config()))
