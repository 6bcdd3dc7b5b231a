"""The Order sync page's FastAPI app, mounted by Airflow's API server under ``/ordersync``.

Airflow does not protect a plugin's FastAPI app: every route here resolves the caller with
Airflow's own ``get_user`` (the UI's JWT cookie or a Bearer token; 401 without one) and asks the
auth manager, per entry, for read access on the entry's DAG (403 when none is readable). The
buttons create ``ordersync_actions`` runs through Airflow's REST API with the caller's own token,
so the run is the user's (audited, permission-checked again by Airflow) and shows in the grid.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ordersync.config import Entry, load_config

# the manual-actions DAG (ordersync.factory.ACTIONS_DAG_ID; factory sits above this layer)
ACTIONS_DAG_ID = "ordersync_actions"
PAGE = Path(__file__).with_name("page.html")
COOKIE = "_token"  # Airflow's UI session cookie (base_auth_manager.COOKIE_NAME_JWT_TOKEN)

log = logging.getLogger(__name__)
app = FastAPI(title="ordersync: Order sync page", docs_url=None, redoc_url=None, openapi_url=None)
bearer = HTTPBearer(auto_error=False)


async def current_user(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]):
    """The logged-in Airflow user (401 without a login, 403 for a bad token), as Airflow's own routes get it."""
    from airflow.api_fastapi.core_api.security import get_user

    return await get_user(request, None, credentials)


UserDep = Annotated[Any, Depends(current_user)]


def _auth_manager():
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


def readable_entries(user: Any) -> list[Entry]:
    """The enabled entries whose DAG the user may read; 403 when there is none."""
    entries = load_config().enabled
    allowed = _auth_manager().filter_authorized_dag_ids(dag_ids={e.dag_id for e in entries}, user=user, method="GET")
    readable = [e for e in entries if e.dag_id in allowed]
    if not readable:
        raise HTTPException(403, "Forbidden: no ordersync DAG readable by this user")
    return readable


def can_trigger(user: Any) -> bool:
    """May the user create runs of the manual-actions DAG (what the buttons do)?"""
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return _auth_manager().is_authorized_dag(
        method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=ACTIONS_DAG_ID), user=user
    )


@functools.lru_cache(maxsize=8)
def _store_for_url(url: str):
    from ordersync.shop.store import ShopStore

    return ShopStore.from_url(url)  # one engine (pool) per shop database for the server's life


def store_for(entry: Entry):
    """The entry's shop database, from its Airflow connection (as ``python -m ordersync`` reads it)."""
    from ordersync.cli import shop_url_outside_a_task
    from ordersync.errors import MissingConnection

    try:
        return _store_for_url(shop_url_outside_a_task(entry.shop_conn_id))
    except MissingConnection as exc:
        raise HTTPException(503, str(exc)) from None


def _user_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    token = request.cookies.get(COOKIE)
    if not token:
        raise HTTPException(401, "Not authenticated")
    return token


def _airflow_base(request: Request) -> str:
    """Where Airflow's REST API and UI are: ``[api] base_url``, else the address this request came to."""
    from airflow.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    if base.startswith("http"):
        return base
    return f"{request.url.scheme}://{request.url.netloc}{base}"


@app.get("/", response_class=HTMLResponse)
def page(request: Request, user: UserDep) -> HTMLResponse:
    """The page (HTML + script); its data comes from the JSON routes below."""
    readable_entries(user)
    root = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(PAGE.read_text(encoding="utf-8").replace("__ROOT__", root))


@app.get("/api/overview")
def overview(user: UserDep) -> dict[str, Any]:
    """Per readable entry: summary, not imported, waiting for acceptance, not shipped."""
    from ordersync.overview import LIST_ACTIONS, entry_overview

    entries = []
    for entry in readable_entries(user):
        try:
            entries.append(entry_overview(store_for(entry), entry))
        except HTTPException as exc:
            entries.append({"entry": entry.key, "dag_id": entry.dag_id, "marketplace": entry.marketplace,
                            "country": entry.country, "error": exc.detail})
        except Exception as exc:  # noqa: BLE001 - one shop database down never hides the other entries
            log.exception("Order sync page: entry %s unreadable", entry.key)
            entries.append({"entry": entry.key, "dag_id": entry.dag_id, "marketplace": entry.marketplace,
                            "country": entry.country, "error": f"shop database unreadable ({type(exc).__name__})"})
    return {"entries": entries, "can_trigger": can_trigger(user), "actions": LIST_ACTIONS,
            "user": getattr(user, "get_name", lambda: None)()}


@app.get("/report", response_class=HTMLResponse)
def report(user: UserDep) -> HTMLResponse:
    """The latest reconciliation of the readable entries, as the report page (from the shop database)."""
    from ordersync.overview import latest_reconciliation_html

    entries = readable_entries(user)
    pages = []
    by_store: dict[str, list[Entry]] = {}
    for entry in entries:
        by_store.setdefault(entry.shop_conn_id, []).append(entry)
    for group in by_store.values():
        html = latest_reconciliation_html(store_for(group[0]), group)
        if html:
            pages.append(html)
    if not pages:
        return HTMLResponse("<!doctype html><p>No reconciliation yet: the <code>ordersync_reconciliation</code> DAG "
                            "writes one after the imports and the daily recovery (or trigger it).</p>")
    return HTMLResponse("\n".join(pages))


class ActionRequest(BaseModel):
    """One button press: an ordersync_actions run for the selected orders of one entry."""

    entry: str
    action: Literal["reimport", "accept", "refuse", "resend_fulfillment"]
    order_ids: list[Annotated[str, Field(pattern=r"^[!-~]{1,64}$")]] = Field(min_length=1, max_length=200)


@app.post("/api/actions")
def trigger_action(body: ActionRequest, request: Request, user: UserDep) -> dict[str, Any]:
    """Create the ordersync_actions run through Airflow's REST API as the logged-in user."""
    import requests

    if body.entry not in {e.key for e in readable_entries(user)}:
        raise HTTPException(403, f"Forbidden: entry {body.entry!r} is not readable by this user")
    if not can_trigger(user):
        raise HTTPException(403, f"Forbidden: this user may not trigger {ACTIONS_DAG_ID}")
    base = _airflow_base(request)
    ids = sorted(set(body.order_ids))
    answer = requests.post(
        f"{base}/api/v2/dags/{ACTIONS_DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"entry": body.entry, "action": body.action, "order_ids": ids},
              "note": f"Order sync page: {body.action} of {len(ids)} order(s) of {body.entry}"},
        headers={"Authorization": f"Bearer {_user_token(request)}"},
        timeout=30,
    )
    if not answer.ok:
        raise HTTPException(answer.status_code, f"Airflow refused the run: {_detail(answer)}")
    run = answer.json()
    return {"dag_run_id": run["dag_run_id"], "state": run.get("state"), "url": _run_url(base, run["dag_run_id"])}


@app.get("/api/actions/{run_id}")
def action_state(run_id: str, request: Request, user: UserDep) -> dict[str, Any]:
    """The state of an ordersync_actions run (asked of Airflow's REST API as the user)."""
    import requests

    readable_entries(user)
    base = _airflow_base(request)
    answer = requests.get(f"{base}/api/v2/dags/{ACTIONS_DAG_ID}/dagRuns/{quote(run_id, safe='')}",
                          headers={"Authorization": f"Bearer {_user_token(request)}"}, timeout=30)
    if not answer.ok:
        raise HTTPException(answer.status_code, _detail(answer))
    return {"dag_run_id": run_id, "state": answer.json().get("state"), "url": _run_url(base, run_id)}


def _run_url(base: str, run_id: str) -> str:
    return f"{base}/dags/{ACTIONS_DAG_ID}/runs/{quote(run_id, safe='')}"


def _detail(answer: Any) -> str:
    try:
        return str(answer.json().get("detail"))[:500]
    except ValueError:
        return answer.text[:500]
