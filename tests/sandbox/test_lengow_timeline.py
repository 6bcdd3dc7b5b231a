"""The Lengow part of the simulated fortnight: deterministic, with the cases the simulation needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ordersync.sandbox.timeline import AcceptFirstTimeline, LengowTimeline

START = datetime(2026, 11, 1, tzinfo=UTC)


def test_the_lengow_marketplace_holds_its_hard_cases():
    t = LengowTimeline(START, 14, 200, seed=3)
    again = LengowTimeline(START, 14, 200, seed=3)
    assert [(o.order_id, o.history) for o in t.orders] == [(o.order_id, o.history) for o in again.orders]
    assert len({o.order_id for o in t.orders}) == 14 * 200
    # never the ids of the Cdiscount timeline: both end up in one shop
    assert not {o.order_id for o in t.orders} & {o.order_id for o in AcceptFirstTimeline(START, 14, 200, seed=3).orders}
    merchant = [o for o in t.orders if o.fulfilled_by == "MERCHANT"]
    delivered = [o for o in t.orders if o.fulfilled_by == "MARKETPLACE"]
    assert delivered and all([s for _, s in o.history] == ["importable", "shipped"] for o in delivered)
    assert any([s for _, s in o.history][:2] == ["new", "waiting"] for o in merchant)
    assert any(o.visible_at - o.created >= timedelta(hours=12) for o in merchant)  # listed 12 h late
    assert any(o.history[-1][1] == "cancelled" and o.history[-1][0] > o.visible_at for o in merchant)
    assert any(not o.known_products for o in merchant)
    events = t.events()
    appear = {e.order.order_id: e.when for e in events if e.kind == "appear"}
    assert len(appear) == len(t.orders) and all(e.when > appear[e.order.order_id] for e in events if e.kind == "status")
