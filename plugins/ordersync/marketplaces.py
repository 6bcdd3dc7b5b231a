"""Amazon marketplaces per country: marketplace id, SP-API region and currency.

A fixed table (from Amazon's published marketplace list) so users never type marketplace ids:
a config entry names a country and the rest follows. Shared with the sandbox, which serves the
same ids.
"""

from __future__ import annotations

from dataclasses import dataclass

# SP-API regional endpoints; Login with Amazon is global.
REGION_HOSTS = {
    "NA": "sellingpartnerapi-na.amazon.com",
    "EU": "sellingpartnerapi-eu.amazon.com",
    "FE": "sellingpartnerapi-fe.amazon.com",
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"


@dataclass(frozen=True)
class AmazonMarketplace:
    country: str
    marketplace_id: str
    region: str
    currency: str
    name: str


_TABLE = [
    ("US", "ATVPDKIKX0DER", "NA", "USD", "Amazon.com"),
    ("CA", "A2EUQ1WTGCTBG2", "NA", "CAD", "Amazon.ca"),
    ("MX", "A1AM78C64UM0Y8", "NA", "MXN", "Amazon.com.mx"),
    ("BR", "A2Q3Y263D00KWC", "NA", "BRL", "Amazon.com.br"),
    ("UK", "A1F83G8C2ARO7P", "EU", "GBP", "Amazon.co.uk"),
    ("IE", "A28R8C7NBKEWEA", "EU", "EUR", "Amazon.ie"),
    ("DE", "A1PA6795UKMFR9", "EU", "EUR", "Amazon.de"),
    ("FR", "A13V1IB3VIYZZH", "EU", "EUR", "Amazon.fr"),
    ("IT", "APJ6JRA9NG5V4", "EU", "EUR", "Amazon.it"),
    ("ES", "A1RKKUPIHCS9HS", "EU", "EUR", "Amazon.es"),
    ("NL", "A1805IZSGTT6HS", "EU", "EUR", "Amazon.nl"),
    ("BE", "AMEN7PMS3EDWL", "EU", "EUR", "Amazon.com.be"),
    ("PL", "A1C3SOZRARQ6R3", "EU", "PLN", "Amazon.pl"),
    ("SE", "A2NODRKZP88ZB9", "EU", "SEK", "Amazon.se"),
    ("TR", "A33AVAJ2PDY3EV", "EU", "TRY", "Amazon.com.tr"),
    ("JP", "A1VC38T7YXB528", "FE", "JPY", "Amazon.co.jp"),
    ("AU", "A39IBJ37TRP1C6", "FE", "AUD", "Amazon.com.au"),
    ("SG", "A19VAU5U5O7RUS", "FE", "SGD", "Amazon.sg"),
]

AMAZON_MARKETPLACES: dict[str, AmazonMarketplace] = {
    row[0]: AmazonMarketplace(*row) for row in _TABLE
}
BY_MARKETPLACE_ID: dict[str, AmazonMarketplace] = {
    m.marketplace_id: m for m in AMAZON_MARKETPLACES.values()
}


def amazon_marketplace(country: str) -> AmazonMarketplace:
    """The marketplace for a country code (``GB`` is accepted for ``UK``)."""
    code = country.upper()
    if code == "GB":
        code = "UK"
    try:
        return AMAZON_MARKETPLACES[code]
    except KeyError:
        known = ", ".join(sorted(AMAZON_MARKETPLACES))
        raise KeyError(f"unknown Amazon country {country!r}; known: {known}") from None


@dataclass(frozen=True)
class UsagePlan:
    """An SP-API operation's published usage plan: steady requests per second and burst."""

    rate: float
    burst: int


# Per selling partner and region (all marketplaces of one seller in a region share them).
AMAZON_USAGE_PLANS: dict[str, UsagePlan] = {
    "searchOrders": UsagePlan(0.0056, 20),
    "getOrder": UsagePlan(0.5, 30),
    "confirmShipment": UsagePlan(2.0, 10),
}
