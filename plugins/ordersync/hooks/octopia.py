"""Cdiscount's Octopia seller API v2: client-credentials tokens and the ``SellerId`` header."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import requests

from ordersync.hooks.client import MarketplaceHook, Token


class OctopiaHook(MarketplaceHook):
    """Octopia with credentials from an Airflow connection.

    Connection fields: ``host`` the API base URL, ``login`` the client id, ``password`` the client
    secret, ``extra`` ``{"seller_id": "...", "token_url": "..."}``. Tokens last about 2 h and are
    cached (Octopia allows 500 an hour); every call also carries ``SellerId``.
    """

    conn_name_attr = "octopia_conn_id"
    default_conn_name = "cdiscount"
    hook_name = "Cdiscount (Octopia) seller API"
    api_name = "Octopia"
    own_extras: ClassVar[tuple[str, ...]] = ("seller_id", "token_url")

    def _settings(self) -> tuple[str, str, str, str]:
        conn = self.connection
        extra = conn.extra_dejson
        self.require(
            ("login (client id)", conn.login),
            ("password (client secret)", conn.password),
            ("extra.seller_id", extra.get("seller_id")),
            ("extra.token_url", extra.get("token_url")),
        )
        return conn.login, conn.password, str(extra["seller_id"]), extra["token_url"]

    def token_cache_key(self) -> str:
        client_id, _, seller_id, _ = self._settings()
        return f"{client_id}:{seller_id}"

    def request_token(self) -> requests.Response:
        client_id, secret, _, url = self._settings()
        data = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        return self.session.post(url, data=data, timeout=self.timeout)

    def read_token(self, body: dict[str, Any]) -> Token:
        seller_id = self._settings()[2]
        return Token(body["access_token"], {"seller_id": seller_id}, time.monotonic() + float(body.get("expires_in", 7200)))

    def auth_headers(self, token: Token) -> dict[str, str]:
        return {"Authorization": f"Bearer {token.value}", "SellerId": token.context["seller_id"]}

    def probe(self) -> requests.Response:
        return self.call("GET", "/orders", params={"pageSize": 1})

    def credentials_hint(self, code: str = "") -> str:
        return "check login (client id), password (client secret) and extra.seller_id"
