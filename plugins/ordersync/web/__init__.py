"""The merchant's "Order sync" page inside the Airflow UI (an Airflow plugin).

:mod:`ordersync.web.api` is the FastAPI app Airflow's API server mounts (JSON API, the page, the
reconciliation report), behind Airflow's login and auth manager; :mod:`ordersync.web.plugin`
registers it (``fastapi_apps`` + an ``external_views`` nav entry). What the page shows is read by
:mod:`ordersync.overview`, which knows nothing of Airflow.
"""
