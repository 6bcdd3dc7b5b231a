"""What can go wrong talking to a marketplace, as the sync steps see it.

Kept apart from the hooks so the domain core (channels, steps) can catch these without importing
Airflow. The split decides what a task does: a request error belongs to one order (kept as its
reason), everything else fails the task with a message naming what to fix or to retry.
"""

from __future__ import annotations


class MarketplaceError(Exception):
    """A marketplace call failed in a way the caller must handle or report."""


class MarketplaceAuthError(MarketplaceError):
    """Credentials or connection settings are wrong: retrying cannot help, a person must fix them."""


class MarketplaceUnavailable(MarketplaceError):
    """5xx, throttling past its limit or network errors persisted after every retry."""


class MarketplaceRequestError(MarketplaceError):
    """The marketplace refused the request (4xx other than auth and throttling)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class BadActionRequest(ValueError):
    """A manual action asked for something that cannot be done as asked (unknown action, no order
    ids, ids not in the marketplace's format): the merchant must correct the request."""


class UnsupportedAction(MarketplaceError):
    """The marketplace has no such action (e.g. a cancel on Cdiscount): a person asked for it."""


class MissingConnection(Exception):
    """An Airflow connection the config names does not exist or cannot be used: a person must
    create or fix it. Never answered with a fallback."""
