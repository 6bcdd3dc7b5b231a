"""A local stand-in for Amazon's Selling Partner API (orders) used by the demo and the tests.

Run it with ``python -m ordersync.sandbox``, or build it in-process with
``ordersync.sandbox.app.create_app(ordersync.sandbox.world.World(...))``. Deliberately imports
nothing here, so ``ordersync.sandbox.catalog`` stays cheap to import (no FastAPI) for DAG code.
"""
