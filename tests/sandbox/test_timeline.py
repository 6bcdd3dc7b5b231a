"""The simulated fortnight: deterministic, and it contains every hard case the simulation needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ordersync.sandbox.timeline import Timeline

START = datetime(2026, 11, 1, tzinfo=UTC)


def test_same_seed_same_fortnight():
    a = Timeline(START, 14, 50, ["IT", "FR"], seed=3)
    b = Timeline(START, 14, 50, ["IT", "FR"], seed=3)
    assert [(o.order_id, o.visible_at, o.history) for o in a.orders] == [(o.order_id, o.visible_at, o.history) for o in b.orders]
    assert len({o.order_id for o in a.orders}) == len(a.orders) == 14 * 50 * 2


def test_the_fortnight_holds_the_hard_cases():
    t = Timeline(START, 14, 200, ["IT", "FR", "DE"])
    merchant = [o for o in t.orders if o.fulfilled_by == "MERCHANT"]
    fba = [o for o in t.orders if o.fulfilled_by == "AMAZON"]
    assert any(o.visible_at - o.created >= timedelta(hours=12) for o in merchant)  # listed 12 h late
    assert any(o.visible_at - o.history[-1][0] > timedelta(days=1) for o in fba)  # FBA up to 2 days late
    pending_for = [o.history[1][0] - o.created for o in merchant]
    assert max(pending_for) > timedelta(days=2) and max(pending_for) <= timedelta(days=3)
    assert any([s for _, s in o.history] == ["PENDING", "CANCELLED"] for o in merchant)  # cancelled before import
    assert any([s for _, s in o.history] == ["PENDING", "UNSHIPPED", "CANCELLED"] for o in merchant)
    assert any(not o.known_products for o in t.orders)
    events = t.events()
    assert events == sorted(events, key=lambda e: (e.when, e.order.order_id, e.kind))
    # every order appears exactly once, before any of its later changes
    appear = {e.order.order_id: e.when for e in events if e.kind == "appear"}
    assert len(appear) == len(t.orders)
    assert all(e.when > appear[e.order.order_id] for e in events if e.kind == "status")


def test_expected_in_shop_is_what_is_importable_at_the_end():
    t = Timeline(START, 3, 40, ["IT"])
    expected = t.expected_in_shop(import_fba=False)
    for o in t.orders:
        if o.order_id in expected:
            assert o.fulfilled_by == "MERCHANT" and o.status_at(t.end)[0] == "UNSHIPPED" and o.known_products
    assert t.expected_in_shop(import_fba=True) > expected


def test_the_accept_first_channel_holds_its_hard_cases():
    from ordersync.sandbox.timeline import AcceptFirstTimeline

    t = AcceptFirstTimeline(START, 14, 200, seed=3)
    assert [(o.order_id, o.history) for o in t.orders] == [(o.order_id, o.history) for o in AcceptFirstTimeline(START, 14, 200, seed=3).orders]
    assert len({o.order_id for o in t.orders}) == 14 * 200
    assert any(o.visible_at - o.created >= timedelta(hours=12) for o in t.orders)  # listed 12 h late
    assert any(o.history[-1][1] == "cancelled" and o.history[-1][0] > o.visible_at for o in t.orders)
    assert any(not o.known_products for o in t.orders)  # refused: the shop lacks the product
