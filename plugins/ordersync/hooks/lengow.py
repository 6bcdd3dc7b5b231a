"""Lengow API v3: a token and the account id from ``/access/get_token``, sent bare in
``Authorization``; an expired token answers 403 as well as 401, and both get a new one."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import requests

from ordersync.errors import MarketplaceAuthError
from ordersync.hooks.client import MarketplaceHook, Token

# Lengow's token answer carries no lifetime; it lasts about an hour
TOKEN_LIFETIME = 3600.0


class LengowHook(MarketplaceHook):
    """Lengow with credentials from an Airflow connection.

    Connection fields: ``host`` the API base URL (https://api.lengow.io), ``login`` the access
    token, ``password`` the secret.
    """

    conn_name_attr = "lengow_conn_id"
    default_conn_name = "lengow"
    hook_name = "Lengow API"
    api_name = "Lengow"
    refresh_on: ClassVar[tuple[int, ...]] = (401, 403)

    def _settings(self) -> tuple[str, str]:
        conn = self.connection
        self.require(("login (access token)", conn.login), ("password (secret)", conn.password))
        return conn.login, conn.password

    def token_cache_key(self) -> str:
        return self._settings()[0]

    def request_token(self) -> requests.Response:
        access_token, secret = self._settings()
        url = self.url_from_endpoint("/access/get_token")
        return self.session.post(url, data={"access_token": access_token, "secret": secret}, timeout=self.timeout)

    def read_token(self, body: dict[str, Any]) -> Token:
        try:
            account_id = int(body["account_id"])
        except (KeyError, TypeError, ValueError):
            raise MarketplaceAuthError(f"connection {self.conn_id!r}: Lengow's token answer has no account_id") from None
        lifetime = float(body.get("expires_in") or TOKEN_LIFETIME)
        return Token(str(body["token"]), {"account_id": account_id}, time.monotonic() + lifetime)

    def auth_headers(self, token: Token) -> dict[str, str]:
        return {"Authorization": token.value}

    def account_id(self) -> int:
        return self.token().context["account_id"]

    def probe(self) -> requests.Response:
        return self.call("GET", "/v3.0/orders", params={"account_id": self.account_id(), "page_size": 1})

    def secrets(self) -> tuple[str, ...]:
        # the access token (login) is a credential too
        login = self.connection.login
        return (*super().secrets(), *((login,) if login and len(login) >= 4 else ()))

    def credentials_hint(self, code: str = "") -> str:
        return "check login (access token) and password (secret) of the Lengow API user"
