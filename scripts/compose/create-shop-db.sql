-- Run by the postgres image at its first start (docker-compose.yaml): the shop database
-- lives next to Airflow's metadata database; airflow-init creates its tables.
CREATE DATABASE shop;
