"""What other modules read of the channels without building one, by marketplace name: the status
words (reconciliation) and, for accept-first marketplaces, the words meaning "waiting for our
answer" (the overview page).

One table, so a marketplace added here and not elsewhere fails ``tests/unit/test_channel_registry.py``
instead of being silently left out of the reconciliation or the acceptances.
"""

from __future__ import annotations

from ordersync.channels import amazon, cdiscount, lengow
from ordersync.channels.contract import AcceptFirstChannel
from ordersync.model import OrderStatus

# marketplaces where an order is accepted before it ships (config.ACCEPT_FIRST names the same ones:
# the config cannot import the channels)
ACCEPT_FIRST_CLASSES: dict[str, type[AcceptFirstChannel]] = {
    "cdiscount": cdiscount.CdiscountChannel,
    "lengow": lengow.LengowChannel,
}
# each marketplace's own status words and what they mean
STATUS_WORDS: dict[str, dict[str, OrderStatus]] = {
    "amazon": amazon.STATUSES,
    "cdiscount": cdiscount.STATUSES,
    "lengow": lengow.STATUSES,
}
# their words for an order waiting for the merchant's answer
WAITING_STATUSES: dict[str, tuple[str, ...]] = {
    name: cls.waiting_statuses for name, cls in ACCEPT_FIRST_CLASSES.items()
}
