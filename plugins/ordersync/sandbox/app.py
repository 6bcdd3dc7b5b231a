"""The sandbox FastAPI application: Amazon routes, admin routes and Amazon-style error bodies."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordersync.sandbox import admin, amazon, cdiscount, lengow
from ordersync.sandbox.acceptfirst import SandboxError
from ordersync.sandbox.amazon import ApiError, LwaCredentials, error_response
from ordersync.sandbox.world import World


def create_app(
    world: World,
    credentials: LwaCredentials | None = None,
    cdiscount_world: cdiscount.CdiscountWorld | None = None,
    lengow_world: lengow.LengowWorld | None = None,
) -> FastAPI:
    """An app serving ``world``; ``credentials`` are the LWA client and refresh token it accepts.

    Cdiscount (``/octopia``) and Lengow (``/lengow``) get their own seeded worlds on the same
    clock as ``world`` unless given.
    """
    app = FastAPI(title="ordersync sandbox marketplace", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.world = world
    app.state.credentials = credentials or LwaCredentials()
    app.state.cdiscount = cdiscount_world or cdiscount.CdiscountWorld(world.now, world.anchor, seed=world.seed)
    app.state.lengow = lengow_world or lengow.LengowWorld(world.now, world.anchor, seed=world.seed)
    app.state.octopia_credentials = cdiscount.OctopiaCredentials()
    app.state.lengow_credentials = lengow.LengowCredentials()

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        # Amazon tags every answer with a request id; clients log it when reporting errors.
        response = await call_next(request)
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        return response

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

    app.include_router(amazon.router)
    app.include_router(admin.router)
    app.include_router(cdiscount.router)
    app.include_router(cdiscount.admin)
    app.include_router(lengow.router)
    app.include_router(lengow.admin)
    return app
