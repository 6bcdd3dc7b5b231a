"""Hooks of the accept-first channels: Cdiscount (Octopia seller API v2) and Lengow (API v3).

Both are ``HttpHook`` subclasses sharing :class:`BearerTokenHook`: a token fetched from the
marketplace's token endpoint and cached per connection until shortly before it expires, refreshed
once on 401, 429 waited out (``Retry-After`` when sent, else backoff), 5xx and network errors
retried with backoff, and errors that name the connection field to fix. Secrets are never logged.
Kept out of :mod:`ordersync.hooks` so the Amazon hook can change without merge conflicts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from ordersync.errors import MarketplaceAuthError, MarketplaceRequestError, MarketplaceUnavailable
from ordersync.hooks import RETRY_EXTRAS, apply_retry_extras


def _error_text(response: requests.Response) -> tuple[str, str]:
    """(code, message) from the JSON error bodies both APIs send; raw text otherwise."""
    try:
        body = response.json()
    except ValueError:
        return "?", response.text[:200]
    if not isinstance(body, dict):
        return "?", str(body)[:200]
    if isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0] if isinstance(body["errors"][0], dict) else {"message": str(body["errors"][0])}
        return str(first.get("code", "?")), str(first.get("message", ""))[:500]
    code = body.get("code") or body.get("error") or body.get("title") or "?"
    message = body.get("message") or body.get("detail") or body.get("error_description") or ""
    return str(code), str(message)[:500]


class BearerTokenHook(HttpHook):
    """HttpHook with a cached access token and the retry rules of the marketplace clients."""

    conn_type = "http"
    _OWN_EXTRAS: tuple[str, ...] = ()
    _tokens: ClassVar[dict[tuple[str, str], tuple[str, dict[str, Any], float]]] = {}
    _tokens_lock: ClassVar[threading.Lock] = threading.Lock()
    api_name = "the marketplace API"

    def __init__(
        self,
        conn_id: str,
        *,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_throttle_wait: float = 900.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(method="GET", http_conn_id=conn_id)
        self.conn_id = conn_id
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.max_throttle_wait, self.timeout, self.sleep = max_throttle_wait, timeout, sleep
        self.stats = {"requests": 0, "throttled": 0, "retried": 0, "token": 0}
        self._retry_tuned = False

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        session = super().get_conn(headers, extra_options)
        # HttpHook turns login/password into basic auth, which would replace our Authorization header
        session.auth = None
        for key in (*self._OWN_EXTRAS, *RETRY_EXTRAS):  # HttpHook would send every extra key as a header
            session.headers.pop(key, None)
        return session

    # -- to provide per API ----------------------------------------------------------------

    def _cache_key(self) -> str:
        raise NotImplementedError

    def _fetch_token(self, session: requests.Session) -> tuple[requests.Response, str]:
        """POST to the token endpoint; returns the response and the endpoint (for messages)."""
        raise NotImplementedError

    def _read_token(self, body: dict[str, Any]) -> tuple[str, dict[str, Any], float]:
        """(token, context such as the Lengow account id, lifetime in seconds)."""
        raise NotImplementedError

    def _auth_headers(self, token: str, context: dict[str, Any]) -> dict[str, str]:
        raise NotImplementedError

    # -- token -----------------------------------------------------------------------------

    def token(self, *, refresh: bool = False) -> tuple[str, dict[str, Any]]:
        key = (self.conn_id, self._cache_key())
        with self._tokens_lock:
            cached = self._tokens.get(key)
            if cached and not refresh and cached[2] - 60 > time.monotonic():
                return cached[0], cached[1]
        session = self.get_conn()
        for attempt in range(self.max_retries + 1):
            try:
                response, url = self._fetch_token(session)
            except requests.RequestException as exc:
                if attempt == self.max_retries:
                    raise MarketplaceUnavailable(f"connection {self.conn_id!r}: token endpoint unreachable: {exc}") from None
                self._wait(attempt)
                continue
            if (response.status_code >= 500 or response.status_code == 429) and attempt < self.max_retries:
                self._wait(attempt)
                continue
            break
        self.stats["token"] += 1
        if response.status_code >= 500 or response.status_code == 429:  # down, not bad credentials
            code, message = _error_text(response)
            raise MarketplaceUnavailable(
                f"connection {self.conn_id!r}: {url} unavailable ({response.status_code} {code}: {message})"
            )
        if response.status_code != 200:
            code, message = _error_text(response)
            raise MarketplaceAuthError(
                f"connection {self.conn_id!r}: {url} refused the credentials ({response.status_code} {code}: {message}); "
                f"{self._credentials_hint()}"
            )
        token, context, lifetime = self._read_token(response.json())
        with self._tokens_lock:
            self._tokens[key] = (token, context, time.monotonic() + lifetime)
        return token, context

    def _credentials_hint(self) -> str:
        return "check the connection's login and password"

    # -- calls -----------------------------------------------------------------------------

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        retry_unknown: bool = True,
    ) -> requests.Response:
        """One API call; the 2xx response or a :class:`~ordersync.hooks.MarketplaceError`.

        ``retry_unknown=False`` for requests that must not be repeated blindly (a Lengow action
        would be queued twice): a 5xx or network error then raises
        :class:`~ordersync.hooks.MarketplaceUnavailable` at once and the caller checks first.
        """
        refreshed = False
        failures = 0
        throttled_for = 0.0
        if not self._retry_tuned:
            self._retry_tuned = True
            apply_retry_extras(self, self._conn_fields().extra_dejson)
        token, context = self.token()
        while True:
            self.method = method
            self.stats["requests"] += 1
            try:
                response = self.run(
                    endpoint,
                    data=params,
                    headers={**self._auth_headers(token, context), "accept": "application/json"},
                    extra_options={"check_response": False, "timeout": self.timeout},
                    **({"json": json} if json is not None else {}),
                )
            except requests.RequestException as exc:
                failures += 1
                if failures > self.max_retries or not retry_unknown:
                    raise MarketplaceUnavailable(f"{method} {endpoint}: {exc}") from None
                self.stats["retried"] += 1
                self._wait(failures - 1)
                continue
            status = response.status_code
            if status < 300:
                return response
            if status == 429:
                self.stats["throttled"] += 1
                try:
                    wait = float(response.headers.get("Retry-After", ""))
                except ValueError:
                    wait = min(self.backoff * 2 ** min(self.stats["throttled"], 10), self.max_backoff)
                if throttled_for + wait > self.max_throttle_wait:
                    raise MarketplaceUnavailable(f"{method} {endpoint}: still throttled after {throttled_for:.0f}s")
                self.log.info("%s throttled %s %s; waiting %.1fs", self.api_name, method, endpoint, wait)
                throttled_for += wait
                self.sleep(wait)
                continue
            if status >= 500:
                failures += 1
                if failures > self.max_retries or not retry_unknown:
                    code, message = _error_text(response)
                    raise MarketplaceUnavailable(f"{method} {endpoint}: {status} {code}: {message}")
                self.stats["retried"] += 1
                self._wait(failures - 1)
                continue
            if status == 401 and not refreshed:  # expired or revoked token: one fresh one
                refreshed = True
                token, context = self.token(refresh=True)
                continue
            code, message = _error_text(response)
            if status in (401, 403):
                raise MarketplaceAuthError(
                    f"connection {self.conn_id!r}: {self.api_name} refused access ({status} {code}: {message}); "
                    f"{self._credentials_hint()}"
                )
            raise MarketplaceRequestError(status, code, message)

    def _wait(self, attempt: int) -> None:
        self.sleep(min(self.backoff * 2**attempt, self.max_backoff))

    def _conn_fields(self):
        return self.get_connection(self.conn_id)


class OctopiaHook(BearerTokenHook):
    """Cdiscount's Octopia seller API v2 with credentials from an Airflow HTTP connection.

    Connection fields: ``host`` the API base URL, ``login`` the client id, ``password`` the client
    secret, ``extra`` ``{"seller_id": "...", "token_url": "..."}``. Tokens are client-credentials
    tokens (about 2 h); every call also carries the ``SellerId`` header.
    """

    conn_name_attr = "octopia_conn_id"
    default_conn_name = "cdiscount"
    hook_name = "Cdiscount (Octopia) seller API"
    api_name = "Octopia"
    _OWN_EXTRAS = ("seller_id", "token_url")

    def _settings(self) -> tuple[str, str, str, str]:
        conn = self._conn_fields()
        extra = conn.extra_dejson
        missing = [
            name
            for name, value in (
                ("login (client id)", conn.login),
                ("password (client secret)", conn.password),
                ("extra.seller_id", extra.get("seller_id")),
                ("extra.token_url", extra.get("token_url")),
            )
            if not value
        ]
        if missing:
            raise MarketplaceAuthError(f"connection {self.conn_id!r} lacks {', '.join(missing)}")
        return conn.login, conn.password, str(extra["seller_id"]), extra["token_url"]

    def _cache_key(self) -> str:
        client_id, _, seller_id, _ = self._settings()
        return f"{client_id}:{seller_id}"

    def _fetch_token(self, session):
        client_id, secret, _, url = self._settings()
        response = session.post(
            url,
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            timeout=self.timeout,
        )
        return response, url

    def _read_token(self, body):
        return body["access_token"], {"seller_id": self._settings()[2]}, float(body.get("expires_in", 7200))

    def _auth_headers(self, token, context):
        return {"Authorization": f"Bearer {token}", "SellerId": context["seller_id"]}

    def _credentials_hint(self) -> str:
        return "check login (client id), password (client secret) and extra.seller_id"


class LengowHook(BearerTokenHook):
    """Lengow API v3 with credentials from an Airflow HTTP connection.

    Connection fields: ``host`` the API base URL (https://api.lengow.io), ``login`` the access
    token, ``password`` the secret. ``POST /access/get_token`` returns the token and the account
    id every call needs.
    """

    conn_name_attr = "lengow_conn_id"
    default_conn_name = "lengow"
    hook_name = "Lengow API"
    api_name = "Lengow"

    def _settings(self) -> tuple[str, str]:
        conn = self._conn_fields()
        missing = [
            name for name, value in (("login (access token)", conn.login), ("password (secret)", conn.password)) if not value
        ]
        if missing:
            raise MarketplaceAuthError(f"connection {self.conn_id!r} lacks {', '.join(missing)}")
        return conn.login, conn.password

    def _cache_key(self) -> str:
        return self._settings()[0]

    def _fetch_token(self, session):
        access_token, secret = self._settings()
        url = self.url_from_endpoint("/access/get_token")
        return session.post(url, data={"access_token": access_token, "secret": secret}, timeout=self.timeout), url

    def _read_token(self, body):
        return str(body["token"]), {"account_id": int(body["account_id"])}, float(body.get("expires_in", 3600))

    def _auth_headers(self, token, context):
        return {"Authorization": token}

    def account_id(self) -> int:
        return self.token()[1]["account_id"]

    def _credentials_hint(self) -> str:
        return "check login (access token) and password (secret) of the Lengow API user"
