"""The sandbox FastAPI application: Amazon routes, admin routes and Amazon-style error bodies."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ordersync.sandbox import admin, amazon
from ordersync.sandbox.amazon import ApiError, LwaCredentials, error_response
from ordersync.sandbox.world import World


def create_app(world: World, credentials: LwaCredentials | None = None) -> FastAPI:
    """An app serving ``world``; ``credentials`` are the LWA client and refresh token it accepts."""
    app = FastAPI(title="ordersync sandbox marketplace", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.world = world
    app.state.credentials = credentials or LwaCredentials()

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

    app.include_router(amazon.router)
    app.include_router(admin.router)
    return app
