"""Airflow hooks: the only place that reads connections (credentials) and speaks HTTP or SQL URLs.

``AmazonSpApiHook`` is an ``HttpHook`` that adds what SP-API needs on top of it: a Login with Amazon
access token (cached until shortly before it expires, refreshed once on 401/403), waiting out 429
throttling without failing, retrying 5xx and connection errors with backoff, and error messages that
name the connection and the field to fix. ``ShopDatabaseHook`` turns a connection into a SQLAlchemy
URL for the shop database.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import requests
from airflow.providers.http.hooks.http import HttpHook
from airflow.sdk import BaseHook

from ordersync.errors import (
    MarketplaceAuthError,
    MarketplaceRequestError,
    MarketplaceUnavailable,
)
from ordersync.marketplaces import LWA_TOKEN_URL, REGION_HOSTS


# connection extras that tune how long a call rides out 5xx/network errors before the task fails
# (then Airflow's own retries take over): attempts, and the first wait in seconds (doubles each time)
RETRY_EXTRAS = ("max_retries", "backoff")


def apply_retry_extras(hook: Any, extra: dict[str, Any]) -> None:
    """Set ``hook.max_retries`` / ``hook.backoff`` from the connection's extras when given."""
    try:
        if extra.get("max_retries") not in (None, ""):
            hook.max_retries = max(0, int(extra["max_retries"]))
        if extra.get("backoff") not in (None, ""):
            hook.backoff = max(0.0, float(extra["backoff"]))
    except (TypeError, ValueError):
        raise MarketplaceAuthError(
            f"connection {getattr(hook, 'conn_id', None) or hook.http_conn_id!r}: extra.max_retries must be an "
            "integer and extra.backoff a number of seconds"
        ) from None


def _amazon_error(response: requests.Response) -> tuple[str, str]:
    try:
        errors = response.json().get("errors") or [{}]
        return errors[0].get("code", "?"), errors[0].get("message", response.text[:200])
    except ValueError:
        return "?", response.text[:200]


class AmazonSpApiHook(HttpHook):
    """Calls the Amazon Selling Partner API with credentials from an Airflow HTTP connection.

    Connection fields: ``host`` the SP-API endpoint (empty: the region's Amazon endpoint),
    ``login`` the LWA client id, ``password`` the LWA client secret, ``extra`` with
    ``refresh_token`` (required) and optionally ``lwa_url`` (token endpoint) and ``region``.

    :param amazon_conn_id: the Airflow connection id.
    :param region: SP-API region (NA, EU, FE) used when the connection has no host.
    :param max_retries: attempts for 5xx and connection errors before giving up.
    :param backoff: first wait in seconds; doubles on each retry (capped at ``max_backoff``).
        Connection ``extra.max_retries`` / ``extra.backoff`` override both.
    :param max_throttle_wait: total seconds to keep waiting out 429s on one call before failing;
        ``None`` (default) waits as long as Amazon throttles: throttling never fails a task.
    :param limiter: a :class:`~ordersync.ratelimit.RateLimiter` paced before every request; default
        one in-process limiter per connection and region (operators pass one shared through the
        shop database). Connection ``extra.rate_limit: false`` turns it off, ``extra.rate_scale``
        multiplies the plans (a time-scaled sandbox).
    """

    conn_name_attr = "amazon_conn_id"
    default_conn_name = "amazon_sp_api"
    conn_type = "http"
    hook_name = "Amazon Selling Partner API"

    # extras that are ours: HttpHook would otherwise send every extra key as an HTTP header
    _OWN_EXTRAS = ("refresh_token", "lwa_url", "region", "rate_limit", "rate_scale", *RETRY_EXTRAS)
    # process-wide token cache, keyed by connection and client: tasks in one worker share it
    _tokens: ClassVar[dict[tuple[str, str], tuple[str, float]]] = {}
    _tokens_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        amazon_conn_id: str = default_conn_name,
        *,
        region: str | None = None,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_throttle_wait: float | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        limiter: Any = None,
        limiter_state: Any = None,
    ):
        super().__init__(method="GET", http_conn_id=amazon_conn_id)
        self.amazon_conn_id = amazon_conn_id
        self.region = region
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_throttle_wait = max_throttle_wait
        self.timeout = timeout
        self.sleep = sleep
        self._limiter = limiter
        self._limiter_state = limiter_state
        self._limiter_ready = limiter is not None
        self._retry_tuned = False
        self.stats = {"requests": 0, "throttled": 0, "retried": 0, "token": 0, "paced_seconds": 0.0}

    # -- connection ------------------------------------------------------------------------

    def _set_base_url(self, connection) -> None:
        if not connection.host:
            region = (connection.extra_dejson.get("region") or self.region or "").upper()
            if region not in REGION_HOSTS:
                raise MarketplaceAuthError(
                    f"connection {self.amazon_conn_id!r}: set 'host' to the SP-API endpoint or "
                    f"extra.region to one of {', '.join(REGION_HOSTS)}"
                )
            self.default_host = f"https://{REGION_HOSTS[region]}"
        super()._set_base_url(connection)

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        session = super().get_conn(headers, extra_options)
        for key in self._OWN_EXTRAS:
            session.headers.pop(key, None)
        return session

    def _credentials(self) -> tuple[str, str, str, str]:
        conn = self.get_connection(self.amazon_conn_id)
        extra = conn.extra_dejson
        missing = [
            name
            for name, value in (
                ("login (LWA client id)", conn.login),
                ("password (LWA client secret)", conn.password),
                ("extra.refresh_token", extra.get("refresh_token")),
            )
            if not value
        ]
        if missing:
            raise MarketplaceAuthError(f"connection {self.amazon_conn_id!r} lacks {', '.join(missing)}")
        return conn.login, conn.password, extra["refresh_token"], extra.get("lwa_url") or LWA_TOKEN_URL

    @property
    def limiter(self):
        """The token-bucket limiter of this seller account and region (``None`` when turned off)."""
        if not self._limiter_ready:
            from ordersync.ratelimit import RateLimiter

            self._limiter_ready = True
            extra = self.get_connection(self.amazon_conn_id).extra_dejson
            if extra.get("rate_limit", True) not in (False, "false", "False", 0):
                region = (extra.get("region") or self.region or "default").upper()
                self._limiter = RateLimiter(
                    f"{self.amazon_conn_id}:{region}",
                    state=self._limiter_state,
                    scale=float(extra.get("rate_scale") or 1.0),
                    sleep=self.sleep,
                )
        return self._limiter

    # -- access token ----------------------------------------------------------------------

    def access_token(self, *, refresh: bool = False) -> str:
        """A Login with Amazon access token, from cache unless it expires within a minute."""
        client_id, secret, refresh_token, lwa_url = self._credentials()
        key = (self.amazon_conn_id, client_id)
        with self._tokens_lock:
            cached = self._tokens.get(key)
            if cached and not refresh and cached[1] - 60 > time.monotonic():
                return cached[0]
        session = self.get_conn()
        for attempt in range(self.max_retries + 1):
            try:
                response = session.post(
                    lwa_url,
                    data={
                        "grant_type": "refresh_token",
                        "refresh_token": refresh_token,
                        "client_id": client_id,
                        "client_secret": secret,
                    },
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                if attempt == self.max_retries:
                    raise MarketplaceUnavailable(f"token endpoint {lwa_url} unreachable: {exc}") from None
                self.stats["retried"] += 1
                self._wait(attempt)
                continue
            if response.status_code >= 500 and attempt < self.max_retries:
                self.stats["retried"] += 1
                self._wait(attempt)
                continue
            break
        self.stats["token"] += 1
        if response.status_code >= 500:  # not a credentials problem: let Airflow retry the task
            raise MarketplaceUnavailable(f"token endpoint {lwa_url} answered {response.status_code} on every retry")
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            error = body.get("error", str(response.status_code))
            hint = {
                "invalid_client": "the client id (login) or client secret (password) is wrong",
                "invalid_grant": "extra.refresh_token is invalid, expired or revoked: authorise the app again",
            }.get(error, body.get("error_description", "see the token endpoint's answer"))
            raise MarketplaceAuthError(f"connection {self.amazon_conn_id!r}: Login with Amazon said {error}: {hint}")
        body = response.json()
        token = body["access_token"]
        with self._tokens_lock:
            self._tokens[key] = (token, time.monotonic() + float(body.get("expires_in", 3600)))
        return token

    # -- calls -----------------------------------------------------------------------------

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        operation: str | None = None,
    ) -> requests.Response:
        """One SP-API operation; returns the 2xx response or raises a :class:`MarketplaceError`.

        Every attempt first takes a token of ``operation``'s bucket (the usage plan), so a seller's
        tasks stay under Amazon's limits together. A 429 is waited out with backoff (Amazon sends
        no Retry-After) for as long as it lasts, 5xx and network errors are retried
        ``max_retries`` times, an auth failure refreshes the token once.
        """
        refreshed = False
        failures = 0
        throttled = 0
        throttled_for = 0.0
        if not self._retry_tuned:
            self._retry_tuned = True
            apply_retry_extras(self, self.get_connection(self.amazon_conn_id).extra_dejson)
        token = self.access_token()
        limiter = self.limiter if operation else None
        while True:
            self.method = method
            if limiter is not None:
                self.stats["paced_seconds"] += limiter.acquire(operation)
            self.stats["requests"] += 1
            try:
                response = self.run(
                    endpoint,
                    data=params,
                    headers={"x-amz-access-token": token, "accept": "application/json"},
                    extra_options={"check_response": False, "timeout": self.timeout},
                    **({"json": json} if json is not None else {}),
                )
            except requests.RequestException as exc:
                failures += 1
                if failures > self.max_retries:
                    raise MarketplaceUnavailable(f"{method} {endpoint}: {exc}") from None
                self.stats["retried"] += 1
                self._wait(failures - 1)
                continue
            status = response.status_code
            if status < 300:
                return response
            if status == 429:
                self.stats["throttled"] += 1
                throttled += 1
                wait = min(self.backoff * 2 ** min(throttled - 1, 10), self.max_backoff)
                if self.max_throttle_wait is not None and throttled_for + wait > self.max_throttle_wait:
                    raise MarketplaceUnavailable(
                        f"{method} {endpoint}: still throttled after {throttled_for:.0f}s of waiting"
                    )
                self.log.info("SP-API throttled %s %s; waiting %.1fs", method, endpoint, wait)
                throttled_for += wait
                self.sleep(wait)
                continue
            if status >= 500:
                failures += 1
                if failures > self.max_retries:
                    code, message = _amazon_error(response)
                    raise MarketplaceUnavailable(f"{method} {endpoint}: {status} {code}: {message}")
                self.stats["retried"] += 1
                self._wait(failures - 1)
                continue
            if status in (401, 403):
                if not refreshed:
                    refreshed = True
                    token = self.access_token(refresh=True)
                    continue
                code, message = _amazon_error(response)
                raise MarketplaceAuthError(
                    f"connection {self.amazon_conn_id!r}: SP-API refused access ({status} {code}: {message}); "
                    "check that the app is authorised for this seller and region and that the "
                    "connection host points at the right regional endpoint"
                )
            code, message = _amazon_error(response)
            raise MarketplaceRequestError(status, code, message)

    def _wait(self, attempt: int) -> None:
        self.sleep(min(self.backoff * 2**attempt, self.max_backoff))


class ShopDatabaseHook(BaseHook):
    """The shop database's SQLAlchemy URL from an Airflow connection.

    A connection of type ``postgres`` or ``mysql`` is turned into a URL with the psycopg or
    PyMySQL driver; ``extra.sqlalchemy_url`` wins when set. With no such connection the shop
    database is SQLite at ``$AIRFLOW_HOME/ordersync_shop.db`` (the embedded default).

    :param shop_conn_id: the Airflow connection id.
    """

    conn_name_attr = "shop_conn_id"
    default_conn_name = "ordersync_shop"
    conn_type = "generic"
    hook_name = "ordersync shop database"

    def __init__(self, shop_conn_id: str = default_conn_name):
        super().__init__()
        self.shop_conn_id = shop_conn_id

    def get_url(self) -> str:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.shop_conn_id)
        except AirflowNotFoundException:
            return default_shop_url()  # only a missing connection means "the embedded default"
        return connection_url(conn)


def default_shop_url() -> str:
    home = os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow"))
    return f"sqlite:///{os.path.join(home, 'ordersync_shop.db')}"


def connection_url(conn) -> str:
    """SQLAlchemy URL for an Airflow connection object (postgres, mysql, sqlite or explicit)."""
    from sqlalchemy.engine import URL

    extra = conn.extra_dejson
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    kind = (conn.conn_type or "").lower()
    drivers = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
    if kind in drivers:
        return URL.create(
            drivers[kind],
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        ).render_as_string(hide_password=False)
    if kind == "sqlite":
        return f"sqlite:///{conn.host}"
    raise ValueError(
        f"connection {conn.conn_id!r}: type {conn.conn_type!r} is not a shop database; "
        "use postgres, mysql or sqlite, or set extra.sqlalchemy_url"
    )
