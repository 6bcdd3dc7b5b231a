"""One HTTP client for every marketplace: :class:`MarketplaceHook`, an ``HttpHook`` with the rules
all marketplace calls share.

- The Airflow connection and the ``requests`` session are fetched once per hook; requests go
  through the provider's ``run_and_check``.
- An access token is fetched from the marketplace's token endpoint, cached per process until a
  minute before it expires (Octopia allows 500 tokens an hour) and refreshed once when the API
  answers one of ``refresh_on`` (401, and 403 where an expired token answers that).
- Retries are tenacity's: a 429 waits ``Retry-After`` when sent, else backoff, for up to
  ``max_throttle_wait`` seconds (``None``: as long as it lasts); 5xx and network errors are retried
  ``max_retries`` times with doubling backoff.
- A request that may have reached the marketplace (a 5xx, a read timeout) is only resent when it
  is idempotent (GET) or the caller's ``already_done`` check says it did not get through: a
  lost answer never becomes a second acceptance, action or shipment.
- Error messages name the connection and the field to fix and never carry a secret: the token
  and the connection's credentials are masked in any text a marketplace sends back.

Each marketplace's hook (:mod:`.amazon`, :mod:`.octopia`, :mod:`.lengow`) only says how to get a
token and how to present it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import requests
from airflow.providers.http.hooks.http import HttpHook

from ordersync.errors import MarketplaceAuthError, MarketplaceRequestError, MarketplaceUnavailable
from ordersync.hooks.retrying import Again, connect_failure, error_text, retry_after, retrying

# connection extras that tune how long a call rides out 5xx/network errors before the task fails
# (then Airflow's own retries take over): attempts, and the first wait in seconds (doubles each time)
RETRY_EXTRAS = ("max_retries", "backoff")


@dataclass(frozen=True)
class Token:
    value: str
    context: dict[str, Any]  # what else the token endpoint said (Lengow's account id...)
    expires_at: float  # time.monotonic()


class MarketplaceHook(HttpHook):
    """Base of the marketplace hooks; subclasses say how to get and present a token.

    :param conn_id: the Airflow connection with the credentials.
    :param max_retries: attempts for 5xx and network errors before giving up (connection
        ``extra.max_retries`` overrides it).
    :param backoff: first wait in seconds, doubling up to ``max_backoff`` (``extra.backoff``).
    :param max_throttle_wait: seconds of 429s one call may wait out; ``None``: no limit.
    :param sleep: how to wait (tests pass a recorder).
    """

    conn_type = "http"
    api_name: ClassVar[str] = "the marketplace API"
    # extras that are ours: HttpHook would send every extra key as an HTTP header
    own_extras: ClassVar[tuple[str, ...]] = ()
    # answers that mean "the token is no longer good": get a new one, once per call
    refresh_on: ClassVar[tuple[int, ...]] = (401,)
    # process-wide token cache: tasks and hooks in one worker share it
    _tokens: ClassVar[dict[tuple[str, str, str], Token]] = {}
    _tokens_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        conn_id: str,
        *,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_throttle_wait: float | None = 900.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        super().__init__(method="GET", http_conn_id=conn_id)
        self.conn_id = conn_id
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.max_throttle_wait, self.timeout, self.sleep = max_throttle_wait, timeout, sleep
        self.stats: dict[str, float] = {"requests": 0, "throttled": 0, "retried": 0, "token": 0, "paced_seconds": 0.0}
        self._connection: Any = None
        self._session: requests.Session | None = None
        self._token: Token | None = None

    # -- the connection, fetched once ------------------------------------------------------

    def get_connection(self, conn_id: str):  # type: ignore[override]
        """The connection, read once per hook (HttpHook and the token code all ask for it)."""
        if self._connection is None:
            self._connection = super().get_connection(conn_id)
            self._apply_retry_extras(self._connection.extra_dejson)
        return self._connection

    @property
    def connection(self):
        return self.get_connection(self.conn_id)

    def get_conn(self, headers: dict[Any, Any] | None = None, extra_options: dict[str, Any] | None = None):
        session = super().get_conn(headers, extra_options)
        session.auth = None  # HttpHook makes login/password basic auth; ours go to the token endpoint
        for key in (*self.own_extras, *RETRY_EXTRAS):
            session.headers.pop(key, None)
        return session

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = self.get_conn()
        return self._session

    def _apply_retry_extras(self, extra: dict[str, Any]) -> None:
        try:
            if extra.get("max_retries") not in (None, ""):
                self.max_retries = max(0, int(extra["max_retries"]))
            if extra.get("backoff") not in (None, ""):
                self.backoff = max(0.0, float(extra["backoff"]))
        except (TypeError, ValueError):
            raise MarketplaceAuthError(
                f"connection {self.conn_id!r}: extra.max_retries must be an integer and extra.backoff a number of seconds"
            ) from None

    def require(self, *fields: tuple[str, Any]) -> None:
        """Fail naming every missing ``(label, value)`` of the connection at once."""
        missing = [label for label, value in fields if not value]
        if missing:
            raise MarketplaceAuthError(f"connection {self.conn_id!r} lacks {', '.join(missing)}")

    # -- to provide per marketplace ----------------------------------------------------------

    def token_cache_key(self) -> str:
        """What identifies the credentials (client id...): one cached token per key."""
        raise NotImplementedError

    def request_token(self) -> requests.Response:
        """POST to the token endpoint with the connection's credentials."""
        raise NotImplementedError

    def read_token(self, body: dict[str, Any]) -> Token:
        raise NotImplementedError

    def auth_headers(self, token: Token) -> dict[str, str]:
        raise NotImplementedError

    def credentials_hint(self, code: str = "") -> str:
        """What to fix, given the marketplace's error code when it sent one."""
        return "check the connection's login and password"

    def secrets(self) -> tuple[str, ...]:
        """Values never to show in a message: the connection's password and token-like extras."""
        conn = self.connection
        extra = conn.extra_dejson
        values = [conn.password, extra.get("refresh_token"), self._token.value if self._token else None]
        return tuple(v for v in values if isinstance(v, str) and len(v) >= 4)

    def pace(self, operation: str | None) -> None:
        """Wait for the usage plan before a request (Amazon's limiter); nothing by default."""

    # -- token -----------------------------------------------------------------------------

    def token(self, *, refresh: bool = False) -> Token:
        """A cached access token, or a new one when it expires within a minute or ``refresh``."""
        key = (type(self).__name__, self.conn_id, self.token_cache_key())
        with self._tokens_lock:
            cached = self._tokens.get(key)
        if cached and not refresh and cached.expires_at - 60 > time.monotonic():
            self._token = cached
            return cached

        def attempt() -> requests.Response:
            try:
                response = self.request_token()
            except requests.RequestException as exc:
                raise Again("failed", f"token endpoint unreachable: {type(exc).__name__}") from None
            if response.status_code == 429:
                raise Again("throttled", "token endpoint throttled", retry_after(response))
            if response.status_code >= 500:
                raise Again("failed", f"token endpoint answered {response.status_code}")
            return response

        try:
            response = self._retrying(attempt)
        except Again as again:  # down, not bad credentials: let Airflow retry the task
            raise MarketplaceUnavailable(f"connection {self.conn_id!r}: token endpoint unavailable ({again.message})") from None
        finally:
            self.stats["token"] += 1
        if response.status_code != 200:
            code, message = error_text(response)
            raise MarketplaceAuthError(
                f"connection {self.conn_id!r}: {self.api_name} refused the credentials "
                f"({response.status_code} {code}: {self.mask(message)}); {self.credentials_hint(code)}"
            )
        token = self.read_token(response.json())
        with self._tokens_lock:
            self._tokens[key] = token
        self._token = token
        return token

    # -- calls -----------------------------------------------------------------------------

    def call(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        operation: str | None = None,
        retry_unknown: bool | None = None,
    ) -> requests.Response:
        """One API call; the 2xx response or a :class:`~ordersync.errors.MarketplaceError`.

        ``retry_unknown`` (default: only for GET) resends after an answer that may have come
        after the marketplace acted (5xx, read timeout). Without it such an answer raises
        :class:`MarketplaceUnavailable` at once, and the caller checks the marketplace before
        sending again (or uses :meth:`send_once`).
        """
        idempotent = method.upper() == "GET" if retry_unknown is None else retry_unknown
        where = f"{method} {endpoint}"
        token = [self.token()]  # replaced once when the marketplace says it expired
        refreshed: list[bool] = []

        def attempt() -> requests.Response:
            self.pace(operation)
            self.stats["requests"] += 1
            request = requests.Request(
                method.upper(), self.url_from_endpoint(endpoint), params=params, json=json, data=data,
                headers={**self.auth_headers(token[0]), "accept": "application/json"},
            )
            try:
                response = self.run_and_check(
                    self.session, self.session.prepare_request(request), {"check_response": False, "timeout": self.timeout}
                )
            except requests.RequestException as exc:
                reached = not isinstance(exc, requests.ConnectTimeout) and not connect_failure(exc)
                if reached and not idempotent:
                    raise MarketplaceUnavailable(f"{where}: {type(exc).__name__}, outcome unknown") from None
                raise Again("failed", f"{where}: {type(exc).__name__}") from None
            if response.status_code in self.refresh_on and not refreshed:
                refreshed.append(True)
                token[0] = self.token(refresh=True)
                raise Again("refresh", "token refreshed")
            return self._judge(response, where, idempotent)

        try:
            return self._retrying(attempt)
        except Again as again:
            raise MarketplaceUnavailable(again.message) from None

    def _judge(self, response: requests.Response, where: str, idempotent: bool) -> requests.Response:
        """The response if it is a success; else what its status means (retry or which error)."""
        status = response.status_code
        if status < 300:
            return response
        if status == 429:
            self.log.info("%s throttled %s", self.api_name, where)
            raise Again("throttled", f"{where}: still throttled", retry_after(response))
        code, message = error_text(response)
        message = self.mask(message)
        if status >= 500:
            if not idempotent:
                raise MarketplaceUnavailable(f"{where}: {status} {code}: {message} (outcome unknown)")
            raise Again("failed", f"{where}: {status} {code}: {message}")
        if status in (401, 403):
            raise MarketplaceAuthError(
                f"connection {self.conn_id!r}: {self.api_name} refused access ({status} {code}: {message}); "
                f"{self.credentials_hint(code)}"
            )
        raise MarketplaceRequestError(status, code, message)

    def send_once(self, method: str, endpoint: str, *, already_done: Callable[[], bool], **kwargs: Any) -> None:
        """Send a request that must take effect once (an answer, an action, a parcel).

        When its answer is lost (5xx, read timeout) the marketplace is asked with
        ``already_done`` before the request goes again, up to ``max_retries`` times.
        """
        for attempt in range(self.max_retries + 1):
            try:
                self.call(method, endpoint, retry_unknown=False, **kwargs)
                return
            except MarketplaceUnavailable:
                if already_done():
                    return
                if attempt == self.max_retries:
                    raise
                self.stats["retried"] += 1
                self.sleep(min(self.backoff * 2**attempt, self.max_backoff))

    def _retrying(self, attempt: Callable[[], requests.Response]) -> requests.Response:
        return retrying(self, attempt)

    def mask(self, text: str) -> str:
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def probe(self) -> requests.Response:
        """The cheapest read that proves the credentials work (one order, one page)."""
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        """The Connections page's Test button: a token, then one small read."""
        try:
            self.token(refresh=True)
            self.probe()
        except Exception as exc:  # noqa: BLE001 - the button shows what went wrong, secrets masked
            return False, self.mask(f"{type(exc).__name__}: {exc}")
        return True, f"{self.api_name}: token and a one-page read succeeded"

    def backoff_wait(self, attempt: int) -> None:
        """Wait the ``attempt``-th backoff (for callers that loop themselves)."""
        self.sleep(min(self.backoff * 2**attempt, self.max_backoff))
