"""The bulk steps set the process's older objects aside from the cyclic collector, and give them back."""

from __future__ import annotations

import gc
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ordersync import steps
from ordersync.shop.store import ShopStore
from ordersync.steps.collector import older_objects_frozen
from tests.fuzz.test_hostile_pages import CHANNELS, Buyer, PageChannel

NOW = datetime.now(timezone.utc)


@pytest.fixture
def unfrozen():
    gc.unfreeze()  # whatever the test process started with
    yield
    gc.unfreeze()


class Watching(PageChannel):
    """Notes how many objects are frozen when lookup lists its pages and when import parses an order."""

    def __init__(self, real: Any, pages: list[list[Any]]):
        super().__init__(real, pages)
        self.frozen: dict[str, list[int]] = {"lookup": [], "import": []}

    def pages(self, window, *, fulfilment=None):
        self.frozen["lookup"].append(gc.get_freeze_count())
        return super().pages(window, fulfilment=fulfilment)

    def parse(self, raw: dict) -> Any:
        self.frozen["import"].append(gc.get_freeze_count())
        return super().parse(raw)


def test_lookup_and_import_freeze_the_older_objects_and_give_them_back(tmp_path, unfrozen):
    store = ShopStore.from_url(f"sqlite:///{tmp_path / 'shop.db'}")
    store.migrate()
    store.add_products([{"sku": "MUG", "name": "Mug", "stock": 100}, {"sku": "CAP", "name": "Cap", "stock": 100}])
    make, entry = CHANNELS["amazon"][1], CHANNELS["amazon"][2]()
    channel = Watching(CHANNELS["amazon"][0](), [[make(f"gc-{n}", Buyer(n), NOW) for n in range(3)]])
    steps.lookup(channel, store, entry, steps.run_window(entry, NOW - timedelta(hours=1), NOW))
    assert gc.get_freeze_count() == 0
    counts = steps.import_orders(channel, store, entry)
    assert counts["imported"] == 3
    # the modules, SQLAlchemy...: set aside during each step
    assert channel.frozen["lookup"] and min(channel.frozen["lookup"]) > 1000
    assert len(channel.frozen["import"]) == 3 and min(channel.frozen["import"]) > 1000
    assert gc.get_freeze_count() == 0  # and back with the collector once the step is over
    store.engine.dispose()


def test_nested_steps_unfreeze_once_at_the_outermost_end(unfrozen):
    with older_objects_frozen():
        outer = gc.get_freeze_count()
        with older_objects_frozen():  # recovery imports inside its own step
            pass
        assert gc.get_freeze_count() >= outer > 0
    assert gc.get_freeze_count() == 0


def test_a_process_forked_frozen_stays_frozen(unfrozen):
    gc.freeze()  # as Airflow's LocalExecutor forks its workers
    before = gc.get_freeze_count()
    with older_objects_frozen():
        pass
    assert gc.get_freeze_count() >= before > 0
