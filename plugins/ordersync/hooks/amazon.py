"""Amazon Selling Partner API: Login with Amazon tokens, the usage-plan limiter, regional hosts."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import requests

from ordersync.errors import MarketplaceAuthError
from ordersync.hooks.client import MarketplaceHook, Token
from ordersync.marketplaces import LWA_TOKEN_URL, REGION_HOSTS


class AmazonSpApiHook(MarketplaceHook):
    """SP-API with credentials from an Airflow connection.

    Connection fields: ``host`` the SP-API endpoint (empty: the region's Amazon endpoint),
    ``login`` the LWA client id, ``password`` the LWA client secret, ``extra`` with
    ``refresh_token`` (required) and optionally ``lwa_url`` (token endpoint), ``region``,
    ``rate_limit: false`` (no pacing) and ``rate_scale`` (multiplies the plans: a time-scaled sandbox).

    :param region: SP-API region (NA, EU, FE) used when the connection has no host.
    :param limiter: a :class:`~ordersync.ratelimit.RateLimiter` paced before every request that
        names its operation; default one per connection and region over ``limiter_state`` (the
        operators pass buckets kept in the shop database, shared by every task of the seller).
    Throttling is waited out without limit (``max_throttle_wait=None``): it never fails a task.
    """

    conn_name_attr = "amazon_conn_id"
    default_conn_name = "amazon_sp_api"
    hook_name = "Amazon Selling Partner API"
    api_name = "SP-API"
    own_extras: ClassVar[tuple[str, ...]] = ("refresh_token", "lwa_url", "region", "rate_limit", "rate_scale")
    refresh_on: ClassVar[tuple[int, ...]] = (401, 403)

    def __init__(
        self,
        amazon_conn_id: str = default_conn_name,
        *,
        region: str | None = None,
        limiter: Any = None,
        limiter_state: Any = None,
        max_throttle_wait: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(amazon_conn_id, max_throttle_wait=max_throttle_wait, **kwargs)
        self.amazon_conn_id = amazon_conn_id
        self.region = region
        self._limiter, self._limiter_state, self._limiter_ready = limiter, limiter_state, limiter is not None

    def _set_base_url(self, connection) -> None:
        if not connection.host:
            region = (connection.extra_dejson.get("region") or self.region or "").upper()
            if region not in REGION_HOSTS:
                raise MarketplaceAuthError(
                    f"connection {self.conn_id!r}: set 'host' to the SP-API endpoint or "
                    f"extra.region to one of {', '.join(REGION_HOSTS)}"
                )
            self.default_host = f"https://{REGION_HOSTS[region]}"
        super()._set_base_url(connection)

    # -- token -----------------------------------------------------------------------------

    def _credentials(self) -> tuple[str, str, str, str]:
        conn = self.connection
        extra = conn.extra_dejson
        self.require(
            ("login (LWA client id)", conn.login),
            ("password (LWA client secret)", conn.password),
            ("extra.refresh_token", extra.get("refresh_token")),
        )
        return conn.login, conn.password, extra["refresh_token"], extra.get("lwa_url") or LWA_TOKEN_URL

    def token_cache_key(self) -> str:
        return self._credentials()[0]

    def request_token(self) -> requests.Response:
        client_id, secret, refresh_token, url = self._credentials()
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id, "client_secret": secret}
        return self.session.post(url, data=data, timeout=self.timeout)

    def read_token(self, body: dict[str, Any]) -> Token:
        return Token(body["access_token"], {}, time.monotonic() + float(body.get("expires_in", 3600)))

    def auth_headers(self, token: Token) -> dict[str, str]:
        return {"x-amz-access-token": token.value}

    def credentials_hint(self, code: str = "") -> str:
        if code == "invalid_client":
            return "the client id (login) or client secret (password) is wrong"
        if code == "invalid_grant":
            return "extra.refresh_token is invalid, expired or revoked: authorise the app again"
        return (
            "check login (LWA client id), password (LWA client secret) and extra.refresh_token "
            "(authorise the app again if it was revoked), that the app is authorised for this seller "
            "and region, and that host points at the right regional endpoint"
        )

    def access_token(self, *, refresh: bool = False) -> str:
        return self.token(refresh=refresh).value

    def probe(self) -> requests.Response:
        """One one-order ``searchOrders`` page in a marketplace of the connection's region."""
        from datetime import datetime, timedelta, timezone

        from ordersync.marketplaces import AMAZON_MARKETPLACES

        region = (self.connection.extra_dejson.get("region") or self.region or "EU").upper()
        marketplace = next(m for m in AMAZON_MARKETPLACES.values() if m.region == region)
        since = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        params = {"marketplaceIds": marketplace.marketplace_id, "lastUpdatedAfter": since, "maxResultsPerPage": 1}
        return self.call("GET", "/orders/2026-01-01/orders", params=params, operation="searchOrders")

    # -- usage plans -----------------------------------------------------------------------

    @property
    def limiter(self):
        """The token-bucket limiter of this seller account and region (``None`` when turned off)."""
        if not self._limiter_ready:
            from ordersync.ratelimit import RateLimiter

            self._limiter_ready = True
            extra = self.connection.extra_dejson
            if extra.get("rate_limit", True) not in (False, "false", "False", 0):
                region = (extra.get("region") or self.region or "default").upper()
                self._limiter = RateLimiter(
                    f"{self.conn_id}:{region}",
                    state=self._limiter_state,
                    scale=float(extra.get("rate_scale") or 1.0),
                    sleep=self.sleep,
                )
        return self._limiter

    def pace(self, operation: str | None) -> None:
        if operation and self.limiter is not None:
            self.stats["paced_seconds"] += self.limiter.acquire(operation)
