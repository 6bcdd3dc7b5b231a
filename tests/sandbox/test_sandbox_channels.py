"""The Cdiscount and Lengow sandbox worlds: deterministic, acceptance delay, acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ordersync.sandbox.acceptfirst import SandboxError
from ordersync.sandbox.cdiscount import CdiscountWorld, render
from ordersync.sandbox.lengow import LengowWorld

ANCHOR = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self):
        self.now = ANCHOR

    def __call__(self):
        return self.now


def test_same_seed_gives_the_same_orders():
    a, b = CdiscountWorld(Clock(), ANCHOR, seed=3), CdiscountWorld(Clock(), ANCHOR, seed=3)
    assert [render(o) for o in a.all_orders()] == [render(o) for o in b.all_orders()]
    assert [render(o) for o in a.all_orders()] != [render(o) for o in CdiscountWorld(Clock(), ANCHOR, seed=4).all_orders()]
    statuses = {render(o)["status"] for o in a.all_orders()}
    assert {"WaitingAcceptance", "InPreparation", "UnderReview"} <= statuses


def test_accepted_order_becomes_importable_after_the_delay_refused_at_once():
    clock = Clock()
    world = CdiscountWorld(clock, ANCHOR, accept_delay=timedelta(minutes=5))
    waiting = [o["id"] for o in world.all_orders() if o["status"] == "waiting"]
    world.answer(waiting[0], True, {"operation": "approval"})
    world.answer(waiting[1], False, {"operation": "approval"})
    assert world.find(waiting[0])["status"] == "accepted" and world.find(waiting[1])["status"] == "refused"
    with pytest.raises(SandboxError) as err:  # a second answer is refused and recorded
        world.answer(waiting[0], True, {"operation": "approval"})
    assert err.value.status == 409
    clock.now += timedelta(minutes=5)
    assert world.find(waiting[0])["status"] == "importable"
    assert [a["accepted"] for a in world.actions(waiting[0])] == [True, False]


def test_lengow_actions_are_acknowledged_after_the_delay_or_fail_after_the_timeout():
    clock = Clock()
    world = LengowWorld(clock, ANCHOR, ack_delay=timedelta(minutes=2), ack_timeout=timedelta(minutes=30))
    ready = [o for o in world.all_orders() if o["status"] == "importable" and o["group"] == "amazon_fr" and not o["bad"]]
    for order in ready[:2]:  # amazon_fr ships one line per action, with one of its carrier codes
        for line in order["lines"]:
            world.queue({"account_id": 4321, "marketplace": "amazon_fr", "marketplace_order_id": order["id"],
                         "action_type": "ship", "tracking_number": "T1", "carrier": "GLS", "line": line["id"]})
    world.no_ack.add(ready[1]["id"])
    clock.now += timedelta(minutes=3)
    done = world.queued(ready[0]["id"], "ship")
    assert all(a["processed"] and not a["queued"] and a["errors"] == "" for a in done)
    assert world.find(ready[0]["id"])["status"] == "shipped"
    waiting = world.queued(ready[1]["id"], "ship")
    assert all(a["queued"] and not a["processed"] for a in waiting)
    clock.now += timedelta(minutes=30)
    late = world.queued(ready[1]["id"], "ship")[0]
    assert not late["processed"] and "not acknowledged" in late["errors"]


def test_lengow_sandbox_checks_each_action_against_the_marketplace_rules():
    clock = Clock()
    world = LengowWorld(clock, ANCHOR)
    order = next(o for o in world.all_orders() if o["status"] == "importable" and o["group"] == "amazon_fr" and not o["bad"]
                 and len(o["lines"]) > 1)
    ship = {"account_id": 4321, "marketplace": "amazon_fr", "marketplace_order_id": order["id"], "action_type": "ship",
            "tracking_number": "T1", "carrier": "GLS", "line": order["lines"][0]["id"]}
    for change, fragment in [
        ({"line": None}, "missing required argument.* line"),
        ({"carrier": "courier"}, "not a carrier code"),
        ({"line": "nope"}, "has no line"),
        ({"shipping_method": "x"}, "not accepted"),
        ({"action_type": "refund"}, "not available"),
    ]:
        with pytest.raises(SandboxError, match=fragment) as err:
            world.queue({**ship, **change})
        assert err.value.status == 400
    with pytest.raises(SandboxError, match="not possible on an order in waiting_shipment"):
        world.queue({"account_id": 4321, "marketplace": "amazon_fr", "marketplace_order_id": order["id"], "action_type": "accept"})
    # one line shipped: the order waits for the other line, the shipped line says so
    world.queue(ship)
    clock.now += timedelta(minutes=3)
    after = world.find(order["id"])
    assert after["status"] == "importable" and [line["status"] for line in after["lines"]][:1] == ["shipped"]
    # cdiscount ships whole orders and has no cancel action
    other = next(o for o in world.all_orders() if o["status"] == "importable" and o["group"] == "cdiscount" and not o["bad"])
    with pytest.raises(SandboxError, match="not available"):
        world.queue({"account_id": 4321, "marketplace": "cdiscount", "marketplace_order_id": other["id"], "action_type": "cancel"})
    world.queue({"account_id": 4321, "marketplace": "cdiscount", "marketplace_order_id": other["id"], "action_type": "ship",
                 "tracking_number": "T2"})
    clock.now += timedelta(minutes=3)
    assert world.find(other["id"])["status"] == "shipped"


def test_a_pinned_clock_plays_past_days_and_admin_orders_take_their_times():
    """The fortnight simulation pins a channel's clock on simulated time: orders created then,
    answered then, released accept_delay later, cancelled at the moment given."""
    clock = Clock()
    world = CdiscountWorld(clock, ANCHOR, accept_delay=timedelta(minutes=5), orders_per_day=0)
    past = ANCHOR - timedelta(days=10)
    world.set_clock(past)
    created = (past - timedelta(hours=3)).isoformat()
    order = world.add_order({"id": "SIM-1", "created": created, "lines": [{"sku": "X", "quantity": 1}]})
    assert order["created"] == order["updated"] == past - timedelta(hours=3)
    world.answer("SIM-1", True, {"operation": "approval"})
    assert world.find("SIM-1")["updated"] == past
    world.set_clock(past + timedelta(minutes=5))
    released = world.find("SIM-1")
    assert released["status"] == "importable" and released["updated"] == past + timedelta(minutes=5)
    world.admin_update("SIM-1", {"status": "cancelled", "at": (past + timedelta(hours=1)).isoformat()})
    assert world.find("SIM-1")["updated"] == past + timedelta(hours=1)
    assert world.set_clock(None) == ANCHOR  # unpinned: the shared clock again


def test_cdiscount_world_seeds_octopia_cases_and_ships_seller_lines_only():
    """Besides the shared life: orders Cdiscount ships itself, one mixing seller and Xdock lines,
    orders of another sales channel, one still Processing; a parcel names seller lines only."""
    world = CdiscountWorld(Clock(), ANCHOR)
    wires = [render(o) for o in world.all_orders()]
    modes = [{line["offer"]["supplyMode"] for line in w["lines"]} for w in wires]
    assert {"Fulfillment"} in modes and {"Seller", "Xdock"} in modes
    assert {w["salesChannel"]["id"] for w in wires} == {"SCID01", "SCXX01"}
    assert "Processing" in {w["status"] for w in wires}
    order = world.add_order({"status": "importable", "salesChannelId": "SCID01",
                             "lines": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 1, "supplyMode": "Fulfillment"}]})
    seller, theirs = (line["id"] for line in order["lines"])
    with pytest.raises(SandboxError) as err:
        world.ship(order["id"], {"tracking": "P1", "carrier": "C", "lines": [theirs]}, {"operation": "shipment"})
    assert err.value.status == 400 and "not shipped by the seller" in err.value.message
    world.ship(order["id"], {"tracking": "P2", "carrier": "C", "lines": [seller]}, {"operation": "shipment"})
    lines = render(world.find(order["id"]))["lines"]
    assert [line["parcels"] for line in lines] == [[{"parcelNumber": "P2", "carrierName": "C", "trackingUrl": None}], []]
    assert [a["accepted"] for a in world.actions(order["id"])] == [False, True]
    with pytest.raises(ValueError, match="supplyMode"):
        world.add_order({"lines": [{"sku": "A", "quantity": 1, "supplyMode": "Drone"}]})
    assert world.set_status(order["id"], "delivered")["status"] == "delivered"
