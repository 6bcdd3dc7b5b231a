"""The sandbox's product catalog: what the fake marketplace sells and what the demo shop stocks.

Everything is derived from a fixed table, so ASINs, EANs and stock levels are the same on every
run. A few products are sold on the marketplace but unknown to the shop, so the demo can show
orders that cannot be imported ("no matching product").
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

_BASE36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_EAN_PREFIX = "8054321"  # 2-digit GS1 prefix + 5-digit company number, followed by a 5-digit item number


@dataclass(frozen=True)
class Product:
    """One sellable product; ``price_eur`` is a decimal string (list price in EUR)."""

    sku: str
    asin: str
    ean: str
    title: str
    price_eur: str


@dataclass(frozen=True)
class ShopProduct:
    """A product the demo shop knows, with its initial stock."""

    product: Product
    stock: int

    @property
    def sku(self) -> str:
        return self.product.sku


def ean13_check_digit(first12: str) -> int:
    """GS1 check digit for 12 digits: weights 1,3,1,3,... from the left."""
    if len(first12) != 12 or not first12.isdigit():
        raise ValueError(f"need 12 digits, got {first12!r}")
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def _asin(sku: str) -> str:
    # Hash-derived so it never changes when the table is reordered.
    n = int.from_bytes(hashlib.sha256(sku.encode()).digest()[:8], "big")
    chars = []
    for _ in range(8):
        n, r = divmod(n, 36)
        chars.append(_BASE36[r])
    return "B0" + "".join(chars)


# (sku, title, price in EUR)
_TABLE = [
    ("OS-MUG-RED", "Stoneware mug 350 ml, red", "12.90"),
    ("OS-MUG-BLU", "Stoneware mug 350 ml, blue", "12.90"),
    ("OS-MUG-WHT", "Stoneware mug 350 ml, white", "11.90"),
    ("OS-CUP-ESP-2", "Espresso cups, set of 2", "14.50"),
    ("OS-TEE-BLK-M", "Organic cotton T-shirt, black, size M", "19.90"),
    ("OS-TEE-BLK-L", "Organic cotton T-shirt, black, size L", "19.90"),
    ("OS-TEE-WHT-M", "Organic cotton T-shirt, white, size M", "19.90"),
    ("OS-HOOD-GRY-L", "Zip hoodie, heather grey, size L", "44.00"),
    ("OS-CAP-NAVY", "Six-panel cotton cap, navy", "17.50"),
    ("OS-TOTE-NAT", "Canvas tote bag, natural", "9.90"),
    ("OS-NB-A5-DOT", "A5 notebook, dotted, 160 pages", "8.40"),
    ("OS-NB-A5-LIN", "A5 notebook, lined, 160 pages", "8.40"),
    ("OS-PEN-GEL-3", "Gel pens 0.5 mm, pack of 3", "6.20"),
    ("OS-PLNR-2026", "Weekly planner 2026, linen cover", "16.90"),
    ("OS-BTL-STL-750", "Insulated steel bottle 750 ml", "24.90"),
    ("OS-BTL-STL-500", "Insulated steel bottle 500 ml", "21.90"),
    ("OS-LUNCH-BOX", "Bamboo lunch box, 2 compartments", "18.00"),
    ("OS-CAND-FIG", "Scented soy candle, fig", "15.90"),
    ("OS-CAND-CED", "Scented soy candle, cedar", "15.90"),
    ("OS-PLNT-POT-S", "Terracotta plant pot, small", "7.90"),
    ("OS-PLNT-POT-L", "Terracotta plant pot, large", "13.90"),
    ("OS-TOWEL-SAGE", "Linen tea towel, sage", "11.00"),
    ("OS-APRN-DEN", "Denim kitchen apron", "27.00"),
    ("OS-CUTB-OAK", "Oak cutting board 40 cm", "34.90"),
    ("OS-SOCK-STR-39", "Striped cotton socks, EU 39-42", "8.90"),
    ("OS-UMB-BLK", "Compact umbrella, black", "22.50"),
    ("OS-PHN-CASE-CLR", "Clear phone case, universal fit", "13.40"),
    ("OS-CABLE-USBC-1M", "Braided USB-C cable 1 m", "9.99"),
    # Sold on the marketplace, unknown to the demo shop (see SHOP_MISSING_SKUS).
    ("OS-LAMP-BRASS", "Brass desk lamp with linen shade", "59.00"),
    ("OS-CLOCK-WALL", "Wall clock 30 cm, silent movement", "29.90"),
    ("OS-RUG-JUTE-S", "Handwoven jute rug 60x90 cm", "39.00"),
]

SHOP_MISSING_SKUS = frozenset({"OS-LAMP-BRASS", "OS-CLOCK-WALL", "OS-RUG-JUTE-S"})


def _build() -> tuple[Product, ...]:
    products = []
    for index, (sku, title, price) in enumerate(_TABLE, start=1):
        first12 = f"{_EAN_PREFIX}{index:05d}"
        ean = first12 + str(ean13_check_digit(first12))
        products.append(Product(sku=sku, asin=_asin(sku), ean=ean, title=title, price_eur=price))
    return tuple(products)


CATALOG: tuple[Product, ...] = _build()
BY_SKU: dict[str, Product] = {p.sku: p for p in CATALOG}


def shop_catalog() -> list[ShopProduct]:
    """The products the demo shop has, with a deterministic initial stock (some deliberately low)."""
    shop = []
    for index, product in enumerate(CATALOG):
        if product.sku in SHOP_MISSING_SKUS:
            continue
        # Mostly comfortable stock, every fifth product nearly sold out.
        stock = 2 if index % 5 == 4 else 15 + (index * 7) % 30
        shop.append(ShopProduct(product=product, stock=stock))
    return shop
