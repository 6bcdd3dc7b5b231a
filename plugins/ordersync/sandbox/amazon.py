"""Amazon's HTTP surface: Login with Amazon tokens, Orders API v2026-01-01 and v0 confirmShipment.

Parameters, status codes and bodies follow Amazon's published models (searchOrders, getOrder,
confirmShipment). Query parameters are read by hand rather than declared, so that bad input gets
Amazon's 400 ``ErrorList`` instead of FastAPI's 422.

Over 400 lines on purpose: three operations validated as strictly as Amazon's models say
(every parameter, body field and error of searchOrders, getOrder and confirmShipment).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from ordersync.marketplaces import BY_MARKETPLACE_ID
from ordersync.sandbox.world import FULFILLED_BY, FULFILLMENT_STATUSES, RejectedError, World, iso, parse_time

INCLUDED_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION", "FULFILLMENT",
                 "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS")
# Parts of an order (and of its items) that are only sent when their dataset is requested.
_ORDER_SECTIONS = {"buyer": "BUYER", "recipient": "RECIPIENT", "proceeds": "PROCEEDS", "payment": "PAYMENT",
                   "tax": "TAX", "fulfillment": "FULFILLMENT", "packages": "PACKAGES",
                   "fulfillmentOrders": "FULFILLMENT_ORDERS"}
_ITEM_SECTIONS = {"proceeds": "PROCEEDS", "expense": "EXPENSE", "promotion": "PROMOTION",
                  "cancellation": "CANCELLATION", "fulfillment": "FULFILLMENT", "tax": "TAX"}
_SEARCH_PARAMS = {"createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore", "fulfillmentStatuses",
                  "marketplaceIds", "fulfilledBy", "maxResultsPerPage", "paginationToken", "includedData"}
_DENIED = "Access to requested resource is denied."
_PAGE_TOKEN_TTL = timedelta(hours=24)
_SAFETY_MARGIN = timedelta(minutes=2)  # "Before" bounds must be at least this far in the past

router = APIRouter()


@dataclass(frozen=True)
class LwaCredentials:
    """The one app + seller authorisation the sandbox accepts."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    refresh_token: str = "sandbox-refresh-token"
    token_lifetime: int = 3600


class ApiError(Exception):
    """An SP-API error answer, rendered as ``{"errors": [{code, message, details?}]}``."""

    def __init__(self, status: int, code: str, message: str, details: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    @classmethod
    def from_rejected(cls, rejected: RejectedError) -> ApiError:
        return cls(404 if rejected.code == "NotFound" else 400, rejected.code, rejected.message)


def error_response(error: ApiError) -> JSONResponse:
    entry = {"code": error.code, "message": error.message}
    if error.details is not None:
        entry["details"] = error.details
    return JSONResponse({"errors": [entry]}, status_code=error.status)


def _bad(message: str) -> ApiError:
    return ApiError(400, "InvalidInput", message)


def _world(request: Request) -> World:
    return request.app.state.world


def authorize(request: Request) -> None:
    state = _world(request).token_state(request.headers.get("x-amz-access-token"))
    if state == "expired":
        raise ApiError(403, "Unauthorized", _DENIED, "The access token you provided has expired.")
    if state != "valid":
        raise ApiError(403, "Unauthorized", _DENIED, "The access token you provided is revoked, malformed or invalid.")


# -- Login with Amazon ------------------------------------------------------------------------


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@router.post("/auth/o2/token")
async def lwa_token(request: Request) -> JSONResponse:
    """Exchange a refresh token for a short-lived access token."""
    world, creds = _world(request), request.app.state.credentials
    world.count("token")
    raw = (await request.body()).decode("utf-8", "replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            form = {k: str(v) for k, v in json.loads(raw or "{}").items()}
        except (ValueError, AttributeError):
            return _oauth_error(400, "invalid_request", "The request body is not valid JSON.")
    else:
        form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic ") and "client_id" not in form:  # RFC 6749 client auth
        try:
            form["client_id"], _, form["client_secret"] = base64.b64decode(auth[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error(401, "invalid_client", "Client authentication failed")
    grant = form.get("grant_type")
    if not grant:
        return _oauth_error(400, "invalid_request", "The request is missing a required parameter : grant_type")
    if grant != "refresh_token":
        return _oauth_error(400, "unsupported_grant_type", f"The grant type {grant} is not supported")
    for name in ("refresh_token", "client_id", "client_secret"):
        if not form.get(name):
            return _oauth_error(400, "invalid_request", f"The request is missing a required parameter : {name}")
    if form["client_id"] != creds.client_id or form["client_secret"] != creds.client_secret:
        return _oauth_error(401, "invalid_client", "Client authentication failed")
    if form["refresh_token"] != creds.refresh_token:
        return _oauth_error(400, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
    token = world.issue_token(creds.token_lifetime)
    return JSONResponse({"access_token": token, "refresh_token": form["refresh_token"],
                         "token_type": "bearer", "expires_in": creds.token_lifetime})


# -- Orders API v2026-01-01 -------------------------------------------------------------------


def render_order(order: dict, included: set[str]) -> dict:
    """The order as sent to a caller who asked for ``included`` datasets; nulls are omitted."""
    wanted = set(included) | {"always"}

    def keep(mapping: dict, sections: dict[str, str]) -> dict:
        return {k: v for k, v in mapping.items() if v is not None and sections.get(k, "always") in wanted}

    out = keep(order, _ORDER_SECTIONS)
    if isinstance(out.get("orderItems"), list):
        out["orderItems"] = [keep(i, _ITEM_SECTIONS) if isinstance(i, dict) else i for i in out["orderItems"]]
    return out


def _only_known(request: Request, known: set[str]) -> None:
    # Amazon documents every parameter; an unknown one is almost always a client typo, so say so.
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise _bad(f"Unknown query parameter(s): {', '.join(unknown)}.")


def _single(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise _bad(f"{name} may be given only once.")
    return values[0] if values else None


def _multi(request: Request, name: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    """An array parameter: comma-separated (Swagger csv) and/or repeated."""
    values = [v.strip() for raw in request.query_params.getlist(name) for v in raw.split(",") if v.strip()]
    if allowed is not None:
        for value in values:
            if value not in allowed:
                raise _bad(f"Invalid value '{value}' for {name}. Allowed values: {', '.join(allowed)}.")
    return values


def _time(name: str, value: str) -> datetime:
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        raise _bad(f"{name} must be a date-time in ISO 8601 format, got '{value}'.") from None


def _page_token(secret: bytes, payload: dict) -> str:
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    signature = hmac.new(secret, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(raw + signature).decode().rstrip("=")


def _read_page_token(secret: bytes, token: str) -> dict | None:
    try:
        data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        raw, signature = data[:-12], data[-12:]
        if not hmac.compare_digest(signature, hmac.new(secret, raw, hashlib.sha256).digest()[:12]):
            return None
        payload = json.loads(raw)
        return payload if isinstance(payload, dict) else None
    except (binascii.Error, ValueError):
        return None


def _search_window(request: Request, world) -> tuple[str, str, str, datetime, datetime | None, datetime]:
    """searchOrders' window: the field it is on, the names of its bounds, the bounds, and the
    latest moment Amazon lets a request read (two minutes ago)."""
    created_after, created_before = _single(request, "createdAfter"), _single(request, "createdBefore")
    updated_after, updated_before = _single(request, "lastUpdatedAfter"), _single(request, "lastUpdatedBefore")
    if (created_after is None) == (updated_after is None):
        raise _bad("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
    if created_after is not None and updated_before is not None:
        raise _bad("lastUpdatedBefore cannot be combined with createdAfter; use createdBefore.")
    if updated_after is not None and created_before is not None:
        raise _bad("createdBefore cannot be combined with lastUpdatedAfter; use lastUpdatedBefore.")
    before_raw: str | None
    if created_after is not None:
        field, after_name, before_name, after_raw, before_raw = (
            "createdTime", "createdAfter", "createdBefore", created_after, created_before)
    else:
        assert updated_after is not None  # exactly one of the two was given (checked above)
        field, after_name, before_name, after_raw, before_raw = (
            "lastUpdatedTime", "lastUpdatedAfter", "lastUpdatedBefore", updated_after, updated_before)
    after = _time(after_name, after_raw)
    latest = world.now().replace(microsecond=0) - _SAFETY_MARGIN
    before = _time(before_name, before_raw) if before_raw is not None else None
    if before is not None:
        if before > latest:
            raise _bad(f"{before_name} must be at least two minutes before the time of the request "
                       f"(latest allowed now: {iso(latest)}).")
        if before < after:
            raise _bad(f"{before_name} must be equal to or after {after_name}.")
    return field, after_name, before_name, after, before, latest


def _search_filters(request: Request) -> tuple[list[str], list[str], set[str], list[str], int]:
    """searchOrders' filters: statuses, fulfilledBy, includedData, marketplace ids, page size."""
    statuses = _multi(request, "fulfillmentStatuses", FULFILLMENT_STATUSES)
    fulfilled_by = _multi(request, "fulfilledBy", FULFILLED_BY)
    included = set(_multi(request, "includedData", INCLUDED_DATA))
    marketplace_ids = _multi(request, "marketplaceIds")
    if len(marketplace_ids) > 50:
        raise _bad("marketplaceIds accepts at most 50 values.")
    for marketplace_id in marketplace_ids:
        if marketplace_id not in BY_MARKETPLACE_ID:
            raise _bad(f"Invalid marketplace identifier: {marketplace_id}.")
    size_raw = _single(request, "maxResultsPerPage")
    try:
        size = int(size_raw) if size_raw is not None else 100
    except ValueError:
        raise _bad(f"maxResultsPerPage must be an integer between 1 and 100, got '{size_raw}'.") from None
    if not 1 <= size <= 100:
        raise _bad(f"maxResultsPerPage must be between 1 and 100, got {size}.")

    return statuses, fulfilled_by, included, marketplace_ids, size


@router.get("/orders/2026-01-01/orders")
async def search_orders(request: Request) -> JSONResponse:
    """searchOrders: orders in a created or last-updated window, filtered and paged."""
    world = _world(request)
    world.count("searchOrders")
    authorize(request)
    _only_known(request, _SEARCH_PARAMS)
    field, after_name, before_name, after, before, latest = _search_window(request, world)
    statuses, fulfilled_by, included, marketplace_ids, size = _search_filters(request)

    # Every parameter except maxResultsPerPage and includedData must repeat on the next pages.
    fingerprint = hashlib.sha256(json.dumps(
        [field, iso(after), iso(before) if before else None, sorted(statuses), sorted(marketplace_ids),
         sorted(fulfilled_by)]).encode()).hexdigest()[:16]
    token = _single(request, "paginationToken")
    last_key = None
    if token is not None:
        if request.app.state.limits.take_stale_page_token():
            raise _bad("The paginationToken has expired.")
        state = _read_page_token(world.page_secret, token)
        if state is None or state.get("f") != fingerprint:
            raise _bad("Invalid paginationToken: it is unknown, or the other parameters differ from the "
                       "request that produced it.")
        if world.now() - parse_time(state["t"]) > _PAGE_TOKEN_TTL:
            raise _bad("The paginationToken has expired.")
        bound, last_key = parse_time(state["b"]), (parse_time(state["k"][0]), state["k"][1])
    else:
        if before is None and after > latest:
            raise _bad(f"{after_name} must be at least two minutes before the time of the request.")
        bound = before or latest

    page, more = world.search(field, after, bound, set(statuses), set(marketplace_ids), set(fulfilled_by),
                              after_key=last_key, limit=size)
    body: dict = {"orders": [render_order(o, included) for o in page]}
    if more:
        last = page[-1]
        body["pagination"] = {"nextToken": _page_token(world.page_secret, {
            "f": fingerprint, "b": iso(bound), "k": [iso(parse_time(last[field])), str(last.get("orderId"))],
            "t": iso(world.now())})}
    body[before_name] = iso(bound)
    return JSONResponse(body)


@router.get("/orders/2026-01-01/orders/{orderId}")
async def get_order(orderId: str, request: Request) -> JSONResponse:  # noqa: N803 - Amazon's name
    """getOrder: one order with the requested datasets."""
    world = _world(request)
    world.count("getOrder")
    authorize(request)
    _only_known(request, {"includedData"})
    included = set(_multi(request, "includedData", INCLUDED_DATA))
    order = world.get_order(orderId)
    if order is None:
        raise ApiError(404, "NotFound", f"Order {orderId} was not found.")
    return JSONResponse({"order": render_order(order, included)})


# -- Orders API v0: confirmShipment -----------------------------------------------------------

_REQUEST_FIELDS = {"marketplaceId", "packageDetail", "codCollectionMethod"}
_PACKAGE_FIELDS = {"packageReferenceId", "carrierCode", "carrierName", "shippingMethod", "trackingNumber",
                   "shipDate", "shipFromSupplySourceId", "orderItems"}
_ITEM_FIELDS = {"orderItemId", "quantity", "transparencyCodes"}


def _record(order_id: str, body: object) -> dict:
    """What the admin API reports about a confirmation, read leniently from any body."""
    body = body if isinstance(body, dict) else {}
    package = detail if isinstance(detail := body.get("packageDetail"), dict) else {}
    items = listed if isinstance(listed := package.get("orderItems"), list) else []
    return {"orderId": order_id, "marketplaceId": body.get("marketplaceId"),
            **{k: package.get(k) for k in ("packageReferenceId", "carrierCode", "carrierName", "shippingMethod",
                                           "trackingNumber", "shipDate")},
            "items": [{"orderItemId": i.get("orderItemId"), "quantity": i.get("quantity")}
                      for i in items if isinstance(i, dict)]}


def _optional_text(mapping: dict, name: str, required: bool = False) -> str | None:
    value = mapping.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{name} {'is required and ' if required else ''}must be a non-empty string.")
    return value


def _text(mapping: dict, name: str) -> str:
    value = _optional_text(mapping, name, required=True)
    assert value is not None  # required: _optional_text raised otherwise
    return value


def _parse_confirmation(body: object) -> tuple[str, dict]:
    """Check a ConfirmShipmentRequest body; returns (marketplaceId, package with parsed shipDate)."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    unknown = set(body) - _REQUEST_FIELDS
    if unknown:
        raise _bad(f"Unknown field(s) in request: {', '.join(sorted(unknown))}.")
    marketplace_id = _text(body, "marketplaceId")
    if body.get("codCollectionMethod") not in (None, "DirectPayment"):
        raise _bad("codCollectionMethod must be DirectPayment.")
    package = body.get("packageDetail")
    if not isinstance(package, dict):
        raise _bad("packageDetail is required and must be an object.")
    unknown = set(package) - _PACKAGE_FIELDS
    if unknown:
        raise _bad(f"Unknown field(s) in packageDetail: {', '.join(sorted(unknown))}.")
    ref = _text(package, "packageReferenceId")
    if not ref.isdigit() or int(ref) <= 0:
        raise _bad(f"packageReferenceId must be a positive number (as a string), got '{ref}'.")
    carrier = _text(package, "carrierCode")
    carrier_name = _optional_text(package, "carrierName", required=carrier == "Other")
    method = _optional_text(package, "shippingMethod")
    tracking = _text(package, "trackingNumber")
    ship_raw = _text(package, "shipDate")
    if "T" not in ship_raw:
        raise _bad(f"shipDate must be an ISO 8601 date-time, got '{ship_raw}'.")
    ship_date = _time("shipDate", ship_raw)
    _optional_text(package, "shipFromSupplySourceId")
    lines = package.get("orderItems")
    if not isinstance(lines, list) or not lines:
        raise _bad("packageDetail.orderItems must list at least one order item.")
    items, seen = [], set()
    for line in lines:
        if not isinstance(line, dict) or set(line) - _ITEM_FIELDS:
            raise _bad("Each order item must be an object with orderItemId, quantity and optional transparencyCodes.")
        item_id = _text(line, "orderItemId")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            raise _bad(f"quantity for orderItemId {item_id} must be a positive integer, got {quantity!r}.")
        codes = line.get("transparencyCodes")
        if codes is not None and (not isinstance(codes, list) or not all(isinstance(c, str) for c in codes)):
            raise _bad("transparencyCodes must be a list of strings.")
        if item_id in seen:
            raise _bad(f"orderItemId {item_id} is listed more than once.")
        seen.add(item_id)
        items.append({"orderItemId": item_id, "quantity": quantity})
    return marketplace_id, {"packageReferenceId": ref, "carrierCode": carrier, "carrierName": carrier_name,
                            "shippingMethod": method, "trackingNumber": tracking, "shipDate": ship_date,
                            "orderItems": items}


@router.post("/orders/v0/orders/{orderId}/shipmentConfirmation")
async def confirm_shipment(orderId: str, request: Request) -> Response:  # noqa: N803 - Amazon's name
    """confirmShipment: record a shipped package; 204 with no body when accepted."""
    world = _world(request)
    world.count("confirmShipment")
    authorize(request)
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        body = ValueError
    record = _record(orderId, body)
    try:
        if body is ValueError:
            raise _bad("The request body is not valid JSON.")
        if world.get_order(orderId) is None:
            raise ApiError(404, "NotFound", f"Order {orderId} was not found.")
        marketplace_id, package = _parse_confirmation(body)
    except ApiError as error:
        world.record_confirmation(record, accepted=False, status=error.status, error=error.message)
        raise
    try:
        world.confirm_shipment(orderId, marketplace_id, package, record)
    except RejectedError as rejected:
        raise ApiError.from_rejected(rejected) from None
    return Response(status_code=204)
