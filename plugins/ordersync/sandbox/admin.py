"""Test and demo controls under ``/_admin`` (no auth): ground truth, crafted orders, clock, reset.

Nothing here exists on Amazon; it lets tests see what the marketplace holds and what it received,
and put the marketplace into the states they need.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from ordersync.sandbox.world import World, iso

router = APIRouter(prefix="/_admin")


def _world(request: Request) -> World:
    return request.app.state.world


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _json_object(request: Request) -> dict | None:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = await request.json()
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@router.get("/health")
def health(request: Request) -> dict:
    world = _world(request)
    return {"status": "ok", "now": iso(world.now()), "anchor": iso(world.anchor), "seed": world.seed,
            "marketplaces": [{"country": m.country, "marketplaceId": m.marketplace_id} for m in world.marketplaces],
            "orders": len(world.orders())}


@router.get("/requests")
def requests(request: Request) -> dict:
    """How many calls each operation received (token, searchOrders, getOrder, confirmShipment)."""
    return _world(request).counters()


@router.get("/confirmations")
def confirmations(request: Request, orderId: str | None = None) -> dict:  # noqa: N803
    """Every confirmShipment received, accepted or rejected, oldest first."""
    return {"confirmations": _world(request).confirmations(orderId)}


@router.get("/orders")
def orders(request: Request, marketplaceId: str | None = None) -> dict:  # noqa: N803
    """All orders in full (every dataset), optionally for one marketplace."""
    return {"orders": _world(request).orders(marketplaceId)}


@router.get("/orders/{orderId}")
def order(orderId: str, request: Request):  # noqa: N803
    found = _world(request).get_order(orderId)
    return {"order": found} if found is not None else _error(404, f"unknown order {orderId}")


@router.post("/orders")
async def add_order(request: Request):
    """Create an order: marketplaceId (or country), fulfillmentStatus, fulfilledBy,
    items [{sellerSku, quantity, unitPrice?, title?, asin?}], createdTime?, lastUpdatedTime?, orderId?,
    prime?, overrides? (deep-merged into the wire order; lists merge by index, null deletes a key)."""
    spec = await _json_object(request)
    if spec is None:
        return _error(400, "body must be a JSON object")
    try:
        created = _world(request).add_order(spec)
    except (ValueError, KeyError, TypeError) as exc:
        return _error(400, f"cannot create order: {exc}")
    return JSONResponse({"order": created}, status_code=201)


@router.post("/orders/{orderId}")
async def update_order(orderId: str, request: Request):  # noqa: N803
    """Change an order: fulfillmentStatus?, overrides?, lastUpdatedTime? (default: now)."""
    changes = await _json_object(request)
    if changes is None:
        return _error(400, "body must be a JSON object")
    try:
        updated = _world(request).update_order(orderId, changes)
    except KeyError:
        return _error(404, f"unknown order {orderId}")
    except (ValueError, TypeError) as exc:
        return _error(400, f"cannot update order: {exc}")
    return {"order": updated}


@router.get("/clock")
def clock(request: Request) -> dict:
    return {"now": iso(_world(request).now())}


@router.post("/clock")
async def advance_clock(request: Request):
    """Move the marketplace clock forward by ``advance_seconds`` (tokens age, windows move)."""
    body = await _json_object(request)
    seconds = (body or {}).get("advance_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return _error(400, "advance_seconds (number) is required")
    return {"now": iso(_world(request).advance(seconds))}


@router.get("/faults")
def faults(request: Request) -> dict:
    """The faults in force, the usage-plan setting and the time scale."""
    return request.app.state.limits.describe()


@router.post("/faults")
async def add_fault(request: Request):
    """Inject a fault; each key is optional and they combine:

    ``{"operation": "searchOrders", "status": 503, "count": 5}`` the next 5 searchOrders answer 503
    (``status`` 429 answers Amazon's QuotaExceeded; no ``count``: until cleared; no ``operation``:
    every operation; ``after``: let that many through first), ``{"delay_seconds": 2, "count": 3}`` answers late, ``{"outage_seconds": 30}``
    answers 503 to every API call of every channel for 30 s (``{"outage": true}``: until cleared), ``{"stale_page_tokens": 1}`` refuses the next paging
    token as expired (400)."""
    spec = await _json_object(request)
    if spec is None:
        return _error(400, "body must be a JSON object")
    try:
        return request.app.state.limits.add_fault(spec)
    except (TypeError, ValueError) as exc:
        return _error(400, f"bad fault: {exc}")


@router.delete("/faults")
def clear_faults(request: Request) -> dict:
    request.app.state.limits.clear_faults()
    return request.app.state.limits.describe()


@router.post("/settings")
async def settings(request: Request):
    """``{"usage_plans": true, "time_scale": 100}``: enforce Amazon's usage plans, N times faster."""
    spec = await _json_object(request)
    if spec is None:
        return _error(400, "body must be a JSON object")
    try:
        return request.app.state.limits.configure(spec.get("usage_plans"), spec.get("time_scale"))
    except (TypeError, ValueError) as exc:
        return _error(400, f"bad settings: {exc}")


@router.get("/throttled")
def throttled(request: Request) -> dict:
    """429s the usage plans answered, and errors injected by faults, per operation."""
    limits = request.app.state.limits
    return {"throttled": dict(limits.throttled), "injected": dict(limits.injected)}


@router.post("/reset")
def reset(request: Request) -> dict:
    """Regenerate orders from the seed; clear clock offset, counters, confirmations, faults and
    buckets (tokens and the usage-plan settings stay)."""
    world = _world(request)
    world.reset()
    request.app.state.limits.reset()
    return {"status": "reset", "orders": len(world.orders())}
