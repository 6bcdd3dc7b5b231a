"""The country -> marketplace table the Amazon channel and the sandbox share."""

from __future__ import annotations

import pytest

from ordersync.channels.amazon import AmazonChannel
from ordersync.marketplaces import REGION_HOSTS, amazon_marketplace
from ordersync.pools import pool_name

# Amazon's published marketplace ids (developer-docs.amazon.com/sp-api/docs/marketplace-ids)
EXPECTED = {
    "IT": ("APJ6JRA9NG5V4", "EU", "EUR"),
    "FR": ("A13V1IB3VIYZZH", "EU", "EUR"),
    "DE": ("A1PA6795UKMFR9", "EU", "EUR"),
    "ES": ("A1RKKUPIHCS9HS", "EU", "EUR"),
    "UK": ("A1F83G8C2ARO7P", "EU", "GBP"),
    "NL": ("A1805IZSGTT6HS", "EU", "EUR"),
    "PL": ("A1C3SOZRARQ6R3", "EU", "PLN"),
    "SE": ("A2NODRKZP88ZB9", "EU", "SEK"),
    "BE": ("AMEN7PMS3EDWL", "EU", "EUR"),
    "US": ("ATVPDKIKX0DER", "NA", "USD"),
}


@pytest.mark.parametrize("country", sorted(EXPECTED))
def test_country_gives_marketplace_id_region_and_currency(country):
    marketplace = amazon_marketplace(country)
    assert (marketplace.marketplace_id, marketplace.region, marketplace.currency) == EXPECTED[country]
    assert AmazonChannel(hook=None, country=country).marketplace is marketplace


def test_regional_endpoints_and_gb_alias():
    assert REGION_HOSTS == {"NA": "sellingpartnerapi-na.amazon.com", "EU": "sellingpartnerapi-eu.amazon.com",
                            "FE": "sellingpartnerapi-fe.amazon.com"}
    assert amazon_marketplace("gb").country == "UK"


def test_countries_of_one_seller_and_region_share_a_pool():
    class E:
        marketplace, conn_id = "amazon", "amazon_eu"

        def __init__(self, country):
            self.country = country

    assert {pool_name(E(c)) for c in ("IT", "FR", "DE", "ES", "UK", "NL", "PL", "SE", "BE")} == {
        "ordersync_amazon_eu_eu_read"}
    assert pool_name(E("US")) == "ordersync_amazon_eu_na_read"
    assert pool_name(E("IT"), "confirm") == "ordersync_amazon_eu_eu_confirm"
