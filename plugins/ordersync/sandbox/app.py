"""The sandbox FastAPI application: Amazon routes, admin routes and Amazon-style error bodies."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordersync.marketplaces import AMAZON_USAGE_PLANS, BY_MARKETPLACE_ID
from ordersync.sandbox import admin, amazon, cdiscount, lengow
from ordersync.sandbox.acceptfirst import SandboxError
from ordersync.sandbox.amazon import ApiError, LwaCredentials, error_response
from ordersync.sandbox.limits import Limits, error_for
from ordersync.sandbox.world import World

# answers whose headers include x-amzn-RateLimit-Limit in the Orders models (403/429/5xx do not)
RATE_LIMIT_HEADER_STATUSES = frozenset({200, 204, 400, 404})


def operation_of(method: str, path: str) -> str | None:
    """The SP-API operation a request calls (None for admin and unknown paths)."""
    parts = [p for p in path.split("/") if p]
    if method == "POST" and parts == ["auth", "o2", "token"]:
        return "token"
    if method == "GET" and parts[:3] == ["orders", "2026-01-01", "orders"]:
        return {3: "searchOrders", 4: "getOrder"}.get(len(parts))
    if method == "POST" and len(parts) == 5 and parts[:3] == ["orders", "v0", "orders"] \
            and parts[4] == "shipmentConfirmation":
        return "confirmShipment"
    return None


def _region(request: Request, world: World) -> str:
    """The region whose buckets a request draws on: its marketplace's (usage plans are regional)."""
    ids = [v for raw in request.query_params.getlist("marketplaceIds") for v in raw.split(",") if v]
    if not ids:
        parts = [p for p in request.url.path.split("/") if p]
        order = world.get_order(parts[3]) if len(parts) > 3 else None
        ids = [((order or {}).get("salesChannel") or {}).get("marketplaceId", "")]
    marketplace = BY_MARKETPLACE_ID.get(ids[0])
    return marketplace.region if marketplace else "EU"


def create_app(
    world: World,
    credentials: LwaCredentials | None = None,
    limits: Limits | None = None,
    cdiscount_world: cdiscount.CdiscountWorld | None = None,
    lengow_world: lengow.LengowWorld | None = None,
) -> FastAPI:
    """An app serving ``world``; ``credentials`` are the LWA client and refresh token it accepts,
    ``limits`` the Amazon usage plans and injected faults (default: no plans enforced, no faults).

    Cdiscount (``/octopia``) and Lengow (``/lengow``) get their own seeded worlds on the same
    clock as ``world`` unless given.
    """
    app = FastAPI(title="ordersync sandbox marketplace", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.world = world
    app.state.credentials = credentials or LwaCredentials()
    app.state.limits = limits = limits or Limits()
    app.state.cdiscount = cdiscount_world or cdiscount.CdiscountWorld(world.now, world.anchor, seed=world.seed)
    app.state.lengow = lengow_world or lengow.LengowWorld(world.now, world.anchor, seed=world.seed)
    app.state.octopia_credentials = cdiscount.OctopiaCredentials()
    app.state.lengow_credentials = lengow.LengowCredentials()

    _usage_plans_and_faults(app, world, limits)

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        # Amazon tags every answer with a request id; clients log it when reporting errors.
        response = await call_next(request)
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

    _error_handlers(app)
    app.include_router(amazon.router)
    app.include_router(admin.router)
    app.include_router(cdiscount.router)
    app.include_router(cdiscount.admin)
    app.include_router(lengow.router)
    app.include_router(lengow.admin)
    return app


def _usage_plans_and_faults(app: FastAPI, world: World, limits: Limits) -> None:
    """Amazon's order of checks: the token, then injected faults and the usage plan (Octopia and
    Lengow only answer an outage here)."""

    @app.middleware("http")
    async def usage_plans_and_faults(request: Request, call_next):
        operation = operation_of(request.method, request.url.path)
        if operation is None:
            channel = request.url.path.split("/")[1]
            if channel in ("octopia", "lengow") and limits.down(channel):  # an outage takes every channel down
                return JSONResponse({"errors": [{"code": "ServiceUnavailable", "message": "sandbox: outage"}]},
                                    status_code=503)
            return await call_next(request)
        if operation != "token":
            try:  # as on Amazon, a request without a valid token is refused before it spends quota
                amazon.authorize(request)
            except ApiError as error:
                world.count(operation)  # received all the same, as every refused request
                return error_response(error)
        # one seller per sandbox (its single LWA authorisation): buckets are per region and operation
        status, delay = limits.check(operation, "seller", _region(request, world) if operation != "token" else "-")
        if delay:
            await asyncio.sleep(delay)
        if status is None:
            response = await call_next(request)
            plan = AMAZON_USAGE_PLANS.get(operation) if operation != "token" else None
            if plan is not None and response.status_code in RATE_LIMIT_HEADER_STATUSES:
                # the model declares the applied plan's rate on these answers; clients must not need it
                response.headers["x-amzn-RateLimit-Limit"] = f"{plan.rate:g}"
            return response
        world.count(operation)  # refused requests still count as received, as on Amazon
        return error_response(ApiError(status, **error_for(status)))


def _error_handlers(app: FastAPI) -> None:
    """Every error answered in Amazon's shape (the accept-first channels' routes answer their own)."""
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "InvalidInput")
        return error_response(ApiError(exc.status_code, code, str(exc.detail)))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return error_response(ApiError(400, "InvalidInput", "Request has missing or invalid parameters."))

    @app.exception_handler(SandboxError)
    async def channel_error(request: Request, exc: SandboxError):
        return JSONResponse({"errors": [{"code": exc.code, "message": exc.message}]}, status_code=exc.status)
