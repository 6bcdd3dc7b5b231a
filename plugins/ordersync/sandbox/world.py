"""The sandbox's state: a deterministic set of Amazon orders, a movable clock, tokens and counters.

Orders are kept as dicts in the wire shape of the Orders API v2026-01-01 with every dataset filled
in; the HTTP layer only removes what the caller did not ask for. The same seed and anchor always
give byte-identical orders. All public methods take the lock and hand out deep copies.
"""

from __future__ import annotations

import copy
import math
import random
import secrets
import threading
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ordersync.marketplaces import BY_MARKETPLACE_ID, AmazonMarketplace, amazon_marketplace
from ordersync.sandbox.catalog import BY_SKU, CATALOG, SHOP_MISSING_SKUS, Product

OPERATIONS = ("token", "searchOrders", "getOrder", "confirmShipment")
FULFILLMENT_STATUSES = (
    "PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED",
    "UNFULFILLABLE",
)
FULFILLED_BY = ("MERCHANT", "AMAZON")

# Rough EUR exchange rates: prices only need to look plausible in the local currency.
_EUR_RATES = {
    "EUR": "1", "GBP": "0.86", "PLN": "4.30", "SEK": "11.40", "TRY": "36", "USD": "1.08",
    "CAD": "1.48", "MXN": "19.5", "BRL": "5.9", "JPY": "162", "AUD": "1.65", "SGD": "1.45",
}
_ZERO_DECIMAL = {"JPY"}  # Amazon sends JPY amounts without decimals

# Per-country people and places: (first names, last names, (city, postal code, region), streets,
# house number before the street?, phone pattern, carriers).
_LOCALES: dict[str, tuple] = {
    "IT": ("Giulia Marco Francesca Luca Chiara Alessandro Sara Matteo Elena Davide".split(),
           "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco".split(),
           [("Milano", "20121", "MI"), ("Roma", "00184", "RM"), ("Torino", "10121", "TO"),
            ("Bologna", "40121", "BO"), ("Firenze", "50123", "FI"), ("Napoli", "80133", "NA")],
           ["Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele II", "Via Mazzini", "Viale Europa"],
           False, "+39 3## ### ####", ["BRT", "GLS", "Poste Italiane", "SDA"]),
    "FR": ("Camille Louis Léa Hugo Manon Lucas Chloé Jules Inès Antoine".split(),
           "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau".split(),
           [("Paris", "75011", None), ("Lyon", "69003", None), ("Marseille", "13006", None),
            ("Toulouse", "31000", None), ("Bordeaux", "33000", None), ("Nantes", "44000", None)],
           ["rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Voltaire"],
           True, "+33 6 ## ## ## ##", ["Colissimo", "Chronopost", "DPD"]),
    "DE": ("Lukas Anna Felix Lena Jonas Laura Maximilian Sophie Paul Marie".split(),
           "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann".split(),
           [("Berlin", "10115", None), ("Hamburg", "20095", None), ("München", "80331", None),
            ("Köln", "50667", None), ("Frankfurt am Main", "60311", None), ("Leipzig", "04109", None)],
           ["Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schulstraße", "Lindenweg"],
           False, "+49 15# ########", ["DHL", "Hermes", "DPD"]),
    "ES": ("Lucía Hugo Martina Pablo Sofía Daniel María Alejandro Paula Javier".split(),
           "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez Martín".split(),
           [("Madrid", "28013", "Madrid"), ("Barcelona", "08001", "Barcelona"),
            ("Valencia", "46002", "Valencia"), ("Sevilla", "41001", "Sevilla"), ("Bilbao", "48001", "Bizkaia")],
           ["Calle Mayor,", "Calle de Alcalá,", "Avenida de la Constitución,", "Gran Vía,"],
           False, "+34 6## ### ###", ["Correos", "SEUR", "MRW"]),
    "UK": ("Oliver Amelia George Isla Harry Ava Jack Emily Charlie Sophie".split(),
           "Smith Jones Taylor Brown Williams Wilson Johnson Davies Evans Thomas".split(),
           [("London", "E1 6AN", None), ("Manchester", "M1 1AE", "Greater Manchester"),
            ("Birmingham", "B1 1BB", "West Midlands"), ("Leeds", "LS1 4DY", "West Yorkshire"),
            ("Bristol", "BS1 4DJ", None)],
           ["High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue"],
           True, "+44 7### ######", ["Royal Mail", "Evri", "DPD"]),
    "NL": ("Daan Emma Sem Julia Lucas Tess Finn Sophie".split(),
           "de Jong|Jansen|de Vries|van den Berg|Bakker|Visser|Smit|Meijer".split("|"),
           [("Amsterdam", "1012 AB", None), ("Rotterdam", "3011 AD", None), ("Utrecht", "3511 AX", None),
            ("Den Haag", "2511 BT", None), ("Eindhoven", "5611 AZ", None)],
           ["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg"],
           False, "+31 6 ########", ["PostNL", "DHL"]),
    "PL": ("Jakub Zuzanna Antoni Julia Jan Maja Aleksander Zofia".split(),
           "Nowak Wójcik Kowalczyk Mazur Krawczyk Zając".split(),
           [("Warszawa", "00-950", "mazowieckie"), ("Kraków", "31-004", "małopolskie"),
            ("Wrocław", "50-077", "dolnośląskie"), ("Poznań", "61-758", "wielkopolskie"),
            ("Gdańsk", "80-831", "pomorskie")],
           ["ul. Marszałkowska", "ul. Długa", "ul. Polna", "ul. Lipowa"],
           False, "+48 5## ### ###", ["InPost", "DPD", "Poczta Polska"]),
    "SE": ("William Alice Liam Maja Hugo Elsa Oscar Astrid".split(),
           "Andersson Johansson Karlsson Nilsson Eriksson Larsson".split(),
           [("Stockholm", "111 22", None), ("Göteborg", "411 06", None), ("Malmö", "211 22", None),
            ("Uppsala", "753 20", None)],
           ["Storgatan", "Drottninggatan", "Kungsgatan", "Skolgatan"],
           False, "+46 7# ### ## ##", ["PostNord", "DHL"]),
    "US": ("James Olivia Liam Emma Noah Ava Ethan Mia".split(),
           "Smith Johnson Williams Brown Jones Garcia Miller Davis".split(),
           [("Seattle", "98101", "WA"), ("Austin", "78701", "TX"), ("Denver", "80202", "CO"),
            ("Columbus", "43215", "OH"), ("Atlanta", "30303", "GA")],
           ["Main St", "Oak Ave", "Maple St", "Pine St", "Cedar Ln"],
           True, "+1 ###-###-####", ["UPS", "USPS", "FedEx"]),
}
# Countries without their own locale get English names and their capital.
_CAPITALS = {
    "IE": ("Dublin", "D02 X285", "Co. Dublin"), "BE": ("Bruxelles", "1000", None),
    "TR": ("İstanbul", "34000", None), "CA": ("Toronto", "M5H 2N2", "ON"),
    "MX": ("Ciudad de México", "06000", "CDMX"), "BR": ("São Paulo", "01310-100", "SP"),
    "JP": ("Tokyo", "150-0002", "Tokyo"), "AU": ("Sydney", "2000", "NSW"), "SG": ("Singapore", "018956", None),
}


def iso(moment: datetime) -> str:
    """Wire format for times: UTC, whole seconds, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 date or date-time; a value without offset is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty date")
    moment = datetime.fromisoformat(value.strip())
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def money(amount: Decimal, currency: str) -> dict:
    places = Decimal("1") if currency in _ZERO_DECIMAL else Decimal("0.01")
    return {"amount": str(amount.quantize(places)), "currencyCode": currency}


def local_price(price_eur: str, currency: str) -> Decimal:
    """A catalog EUR price converted to a plausible shelf price in ``currency``."""
    if currency == "EUR":
        return Decimal(price_eur)
    value = Decimal(price_eur) * Decimal(_EUR_RATES.get(currency, "1"))
    if currency in _ZERO_DECIMAL:
        return Decimal(int(round(value, -1)))
    return Decimal(math.ceil(value)) - Decimal("0.01")  # "x.99" pricing


def deep_merge(target: dict, overrides: dict) -> None:
    """Merge ``overrides`` into ``target``: dicts recurse, lists merge by index, ``None`` deletes."""
    for key, value in overrides.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_merge(target[key], value)
        elif isinstance(value, list) and isinstance(target.get(key), list):
            current = target[key]
            for index, item in enumerate(value):
                if index < len(current) and isinstance(item, dict) and isinstance(current[index], dict):
                    deep_merge(current[index], item)
                elif index < len(current):
                    current[index] = copy.deepcopy(item)
                else:
                    current.append(copy.deepcopy(item))
        else:
            target[key] = copy.deepcopy(value)


def apply_status(order: dict, status: str) -> None:
    """Set the order status and make the per-item shipped quantities agree with it."""
    fulfillment = order.setdefault("fulfillment", {})
    fulfillment["fulfillmentStatus"] = status
    items = [i for i in order.get("orderItems", [])
             if isinstance(i, dict) and isinstance(i.get("quantityOrdered"), int)]
    for item in items:
        qty, state = item["quantityOrdered"], item.setdefault("fulfillment", {})
        done = state.get("quantityFulfilled", 0)
        if status == "SHIPPED":
            done = qty
        elif status in ("PENDING", "PENDING_AVAILABILITY", "UNSHIPPED"):
            done = 0
        state["quantityFulfilled"] = done
        state["quantityUnfulfilled"] = 0 if status in ("CANCELLED", "UNFULFILLABLE") else qty - done
    if status == "PARTIALLY_SHIPPED" and items and not any(i["fulfillment"]["quantityFulfilled"] for i in items):
        # Ship the first item (all of it when there are others, else all but one unit).
        first = items[0]
        shipped = first["quantityOrdered"] if len(items) > 1 else first["quantityOrdered"] - 1
        first["fulfillment"] = {"quantityFulfilled": shipped,
                                "quantityUnfulfilled": first["quantityOrdered"] - shipped}


class RejectedError(Exception):
    """A request the marketplace refuses; ``code`` is ``NotFound`` or ``InvalidInput``."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class _OrderFactory:
    """Builds orders in the wire shape from a random source (ids, people, addresses)."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used_ids: set[str] = set()

    def order_id(self, marketplace: AmazonMarketplace) -> str:
        prefixes = {"EU": (402, 408), "NA": (111, 114), "FE": (249, 250)}[marketplace.region]
        while True:
            oid = f"{self.rng.randint(*prefixes):03d}-{self.rng.randrange(10**7):07d}-{self.rng.randrange(10**7):07d}"
            if oid not in self.used_ids:
                self.used_ids.add(oid)
                return oid

    def item_id(self) -> str:
        return str(self.rng.randrange(10**13, 10**14))

    def digits(self, pattern: str) -> str:
        return "".join(str(self.rng.randrange(10)) if c == "#" else c for c in pattern)

    def _locale(self, country: str) -> tuple:
        if country in _LOCALES:
            return _LOCALES[country]
        fallback = _LOCALES["UK"]
        return (fallback[0], fallback[1], [_CAPITALS.get(country, ("Capital City", "00000", None))],
                fallback[3], True, None, ["DHL", "UPS"])

    def person(self, marketplace: AmazonMarketplace) -> tuple[str, dict]:
        """A buyer name and a delivery address in the marketplace's country."""
        firsts, lasts, cities, streets, number_first, phone, _ = self._locale(marketplace.country)
        name = f"{self.rng.choice(firsts)} {self.rng.choice(lasts)}"
        city, postal, region = self.rng.choice(cities)
        street, number = self.rng.choice(streets), self.rng.randint(1, 180)
        address = {"name": name, "addressLine1": f"{number} {street}" if number_first else f"{street} {number}",
                   "city": city}
        if region:
            address["stateOrRegion"] = region
        address.update(postalCode=postal, countryCode="GB" if marketplace.country == "UK" else marketplace.country)
        if phone:
            address["phone"] = self.digits(phone)
        address["addressType"] = "RESIDENTIAL"
        return name, address

    def package(self, marketplace: AmazonMarketplace, when: datetime, items: list[tuple[str, int]],
                status: str) -> dict:
        carrier = self.rng.choice(self._locale(marketplace.country)[6])
        return {"packageReferenceId": "1", "createdTime": iso(when), "packageStatus": {"status": status},
                "carrier": carrier, "shipTime": iso(when), "trackingNumber": self.digits("#" * 14),
                "packageItems": [{"orderItemId": i, "quantity": q} for i, q in items if q > 0]}

    def build(self, marketplace: AmazonMarketplace, created: datetime, updated: datetime,
              fulfilled_by: str, lines: list[tuple[dict, int]], prime: bool = False,
              expedited: bool = False) -> dict:
        """A complete order; ``lines`` are (product fields, quantity). Status is set separately."""
        currency = marketplace.currency
        name, address = self.person(marketplace)
        buyer = {"buyerName": name}
        if fulfilled_by == "MERCHANT":  # Amazon only shares the (proxy) e-mail for FBM orders
            alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
            local = "".join(self.rng.choice(alphabet) for _ in range(16))
            buyer["buyerEmail"] = f"{local}@marketplace.{marketplace.name.lower()}"
        else:
            address.pop("phone", None)  # suppressed for FBA orders
        if self.rng.random() < 0.1:  # a gift: shipped to someone else
            address["name"] = self.person(marketplace)[0]
        items, total = [], Decimal(0)
        for product, qty in lines:
            unit = Decimal(product["unitPrice"])
            line_total = unit * qty
            total += line_total
            info = {"asin": product["asin"], "title": product["title"]}
            if product.get("sellerSku") is not None:
                info["sellerSku"] = product["sellerSku"]
            info["condition"] = {"conditionType": "NEW", "conditionSubtype": "NEW"}
            info["price"] = {"unitPrice": money(unit, currency)}
            items.append({
                "orderItemId": self.item_id(), "quantityOrdered": qty, "product": info,
                "proceeds": {"proceedsTotal": money(line_total, currency),
                             "breakdowns": [{"type": "ITEM", "subtotal": money(line_total, currency)}]},
                "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": qty},
            })
        ship_days, deliver = (1, (2, 3)) if expedited else (2, (3, 5))
        order: dict[str, Any] = {"orderId": self.order_id(marketplace), "createdTime": iso(created), "lastUpdatedTime": iso(updated)}
        if prime:
            order["programs"] = ["PRIME"]
        order.update({
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace.marketplace_id,
                             "marketplaceName": marketplace.name},
            "buyer": buyer,
            "recipient": {"deliveryAddress": address},
            "proceeds": {"grandTotal": money(total, currency),
                         "breakdowns": [{"type": "ITEM", "subtotal": money(total, currency)}]},
            "fulfillment": {
                "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": fulfilled_by,
                "fulfillmentServiceLevel": "EXPEDITED" if expedited else "STANDARD",
                "shipByWindow": {"earliestDateTime": iso(created),
                                 "latestDateTime": iso(_day_end(created + timedelta(days=ship_days)))},
                "deliverByWindow": {
                    "earliestDateTime": iso((created + timedelta(days=deliver[0])).replace(hour=0, minute=0, second=0)),
                    "latestDateTime": iso(_day_end(created + timedelta(days=deliver[1])))},
            },
            "orderItems": items,
        })
        return order


def _product_fields(product: Product, currency: str) -> dict:
    return {"sellerSku": product.sku, "asin": product.asin, "title": product.title,
            "unitPrice": str(local_price(product.price_eur, currency))}


class World:
    """The marketplace: orders per marketplace, a clock, LWA tokens, confirmations and counters."""

    def __init__(self, seed: int = 42, days: int = 3, orders_per_day: int = 40,
                 countries: Iterable[str] = ("IT", "FR", "DE"), anchor: datetime | None = None):
        self.seed, self.days, self.orders_per_day = seed, days, orders_per_day
        self.marketplaces = list({amazon_marketplace(c).marketplace_id: amazon_marketplace(c)
                                  for c in countries}.values())
        if anchor is None:
            anchor = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        anchor = anchor.replace(tzinfo=UTC) if anchor.tzinfo is None else anchor.astimezone(UTC)
        self.anchor = anchor.replace(microsecond=0)
        self._lock = threading.RLock()
        self._tokens: dict[str, datetime] = {}  # kept across reset so clients stay logged in
        self.page_secret = secrets.token_bytes(16)
        self.reset()

    # -- lifecycle and clock -------------------------------------------------------------------

    def reset(self) -> None:
        """Regenerate the orders from the seed; clear clock offset, counters and confirmations."""
        with self._lock:
            self._offset = timedelta(0)
            self._counts: Counter[str] = Counter()
            self._confirmations: list[dict] = []
            self._factory = _OrderFactory(random.Random(self.seed))
            self._orders: dict[str, dict] = {}
            for marketplace in self.marketplaces:
                for order in self._generate(marketplace):
                    self._orders[order["orderId"]] = order

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
            return self.now()

    # -- generation ----------------------------------------------------------------------------

    def _generate(self, marketplace: AmazonMarketplace) -> list[dict]:
        rng, factory, anchor = self._factory.rng, self._factory, self.anchor
        span = self.days * 86400
        count = self.days * self.orders_per_day
        moments = sorted(anchor - timedelta(seconds=rng.randrange(60, span)) for _ in range(count))
        products = list(CATALOG)
        # Marketplace-only products show up now and then, best sellers more often.
        weights = [0.3 if p.sku in SHOP_MISSING_SKUS else (3.0 if i < 6 else 1.0) for i, p in enumerate(products)]
        orders = []
        for created in moments:
            count = rng.choice((1, 1, 1, 1, 2, 2, 3))
            chosen: list[Product] = []
            while len(chosen) < count:
                pick = rng.choices(products, weights)[0]
                if pick not in chosen:
                    chosen.append(pick)
            lines = [(_product_fields(p, marketplace.currency), rng.choice((1, 1, 1, 1, 2, 2, 3))) for p in chosen]
            fulfilled_by = "AMAZON" if rng.random() < 0.25 else "MERCHANT"
            prime = rng.random() < (0.6 if fulfilled_by == "AMAZON" else 0.08)
            expedited = rng.random() < 0.15
            status, changed = self._history(rng, created, fulfilled_by, sum(q for _, q in lines))
            order = factory.build(marketplace, created, changed, fulfilled_by, lines, prime, expedited)
            apply_status(order, status)
            if fulfilled_by == "MERCHANT" and status in ("SHIPPED", "PARTIALLY_SHIPPED"):
                shipped = [(i["orderItemId"], i["fulfillment"]["quantityFulfilled"]) for i in order["orderItems"]]
                state = "DELIVERED" if anchor - changed > timedelta(days=2) else "IN_TRANSIT"
                order["packages"] = [factory.package(marketplace, changed, shipped, state)]
            orders.append(order)
        return orders

    def _history(self, rng: random.Random, created: datetime, fulfilled_by: str, units: int) -> tuple[str, datetime]:
        """The status an order has reached by the anchor, and when it last changed."""
        anchor = self.anchor
        age = anchor - created
        if fulfilled_by == "AMAZON":  # FBA orders are read-only and already shipped
            return "SHIPPED", min(created + timedelta(hours=rng.uniform(2, 30)), anchor)
        r, recent = rng.random(), age < timedelta(days=2)
        if r < 0.04:
            status = "CANCELLED"
        elif age < timedelta(hours=6) and r < 0.30:
            status = "PENDING"
        elif r < 0.14 and units > 1:
            status = "PARTIALLY_SHIPPED"
        elif recent:  # most recent orders still wait for the merchant, a few fast ones shipped
            status = "SHIPPED" if r < 0.22 else "UNSHIPPED"
        else:  # older ones are mostly shipped, some are late
            status = "UNSHIPPED" if r < 0.16 else "SHIPPED"
        if status == "PENDING":
            delay = timedelta(0)
        elif status in ("CANCELLED", "UNSHIPPED"):  # cancelled within hours, accepted within the hour
            delay = timedelta(minutes=rng.uniform(10, 720) if status == "CANCELLED" else rng.uniform(5, 60))
        else:
            delay = timedelta(hours=rng.uniform(3, 30 if recent else 40))
        if created + delay > anchor:
            # The change has not happened yet: the order is still where it was before it.
            if status in ("SHIPPED", "PARTIALLY_SHIPPED") and created + timedelta(minutes=60) <= anchor:
                return "UNSHIPPED", created + timedelta(minutes=rng.uniform(5, 60))
            return "PENDING", created
        return status, created + delay

    # -- queries -------------------------------------------------------------------------------

    def orders(self, marketplace_id: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(o) for o in self._orders.values()
                    if marketplace_id is None or _get(o, "salesChannel", "marketplaceId") == marketplace_id]

    def get_order(self, order_id: str) -> dict | None:
        with self._lock:
            order = self._orders.get(order_id)
            return copy.deepcopy(order) if order is not None else None

    def search(self, field: str, after: datetime, before: datetime, statuses: set[str] | None,
               marketplace_ids: set[str] | None, fulfilled_by: set[str] | None,
               after_key: tuple[datetime, str] | None = None, limit: int | None = None) -> tuple[list[dict], bool]:
        """Orders whose ``field`` time lies in [after, before], sorted by that time then order id,
        starting after ``after_key``; at most ``limit`` of them (copied), and whether more match."""
        found = []
        with self._lock:
            for order in self._orders.values():
                try:
                    moment = parse_time(str(order.get(field)))
                except (TypeError, ValueError):
                    continue  # a deliberately broken order cannot match a time window
                if not after <= moment <= before:
                    continue
                if after_key is not None and (moment, str(order.get("orderId"))) <= after_key:
                    continue
                if statuses and _get(order, "fulfillment", "fulfillmentStatus") not in statuses:
                    continue
                if marketplace_ids and _get(order, "salesChannel", "marketplaceId") not in marketplace_ids:
                    continue
                if fulfilled_by and _get(order, "fulfillment", "fulfilledBy") not in fulfilled_by:
                    continue
                found.append((moment, str(order.get("orderId")), order))
            found.sort(key=lambda entry: entry[:2])
            page = found if limit is None else found[:limit]
            # copy only the page: copying every match made each request cost O(all orders)
            return [copy.deepcopy(order) for _, _, order in page], len(found) > len(page)

    # -- test controls -------------------------------------------------------------------------

    def add_order(self, spec: dict) -> dict:
        """Create an order from minimal fields (see the admin API); returns it in full."""
        with self._lock:
            if "marketplaceId" in spec:
                marketplace = BY_MARKETPLACE_ID.get(spec["marketplaceId"])
                if marketplace is None:
                    raise ValueError(f"unknown marketplaceId {spec['marketplaceId']!r}")
            else:
                marketplace = amazon_marketplace(spec.get("country", self.marketplaces[0].country))
            status = spec.get("fulfillmentStatus") or spec.get("status") or "UNSHIPPED"
            fulfilled_by = spec.get("fulfilledBy", "MERCHANT")
            if status not in FULFILLMENT_STATUSES or fulfilled_by not in FULFILLED_BY:
                raise ValueError(f"bad status {status!r} or fulfilledBy {fulfilled_by!r}")
            now = self.now().replace(microsecond=0)
            created = parse_time(spec["createdTime"]) if spec.get("createdTime") else now
            updated = parse_time(spec["lastUpdatedTime"]) if spec.get("lastUpdatedTime") else max(now, created)
            lines = []
            for item in spec.get("items") or []:
                sku = item.get("sellerSku")
                known = BY_SKU.get(sku)
                fields = _product_fields(known, marketplace.currency) if known else {
                    "sellerSku": sku, "asin": "B0" + self._factory.digits("########"),
                    "title": f"Marketplace product {sku or '(no SKU)'}", "unitPrice": "10.00"}
                for key in ("asin", "title", "unitPrice"):
                    if key in item:
                        fields[key] = str(item[key])
                lines.append((fields, int(item.get("quantity", 1))))
            if not lines:
                raise ValueError("an order needs at least one item")
            order = self._factory.build(marketplace, created, updated, fulfilled_by, lines,
                                        prime=bool(spec.get("prime")))
            if spec.get("orderId"):
                order["orderId"] = str(spec["orderId"])
            apply_status(order, status)
            deep_merge(order, spec.get("overrides") or {})
            self._orders[order["orderId"]] = order
            return copy.deepcopy(order)

    def update_order(self, order_id: str, changes: dict) -> dict:
        """Change status and/or raw fields and bump lastUpdatedTime (to now unless given)."""
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                raise KeyError(order_id)
            status = changes.get("fulfillmentStatus") or changes.get("status")
            if status is not None:
                if status not in FULFILLMENT_STATUSES:
                    raise ValueError(f"unknown fulfillmentStatus {status!r}")
                apply_status(order, status)
            deep_merge(order, changes.get("overrides") or {})
            when = parse_time(changes["lastUpdatedTime"]) if changes.get("lastUpdatedTime") else self.now()
            order["lastUpdatedTime"] = iso(when)
            return copy.deepcopy(order)

    # -- shipment confirmations ----------------------------------------------------------------

    def confirm_shipment(self, order_id: str, marketplace_id: str, package: dict, record: dict) -> None:
        """Apply a well-formed confirmation or raise :class:`RejectedError`; either way it is recorded."""
        with self._lock:
            try:
                self._apply_confirmation(order_id, marketplace_id, package)
            except RejectedError as rejected:
                status = 404 if rejected.code == "NotFound" else 400
                self.record_confirmation(record, accepted=False, status=status, error=rejected.message)
                raise
            self.record_confirmation(record, accepted=True, status=204)

    def _apply_confirmation(self, order_id: str, marketplace_id: str, package: dict) -> None:
        def invalid(message: str) -> RejectedError:
            return RejectedError("InvalidInput", message)

        order = self._orders.get(order_id)
        if order is None:
            raise RejectedError("NotFound", f"Order {order_id} was not found.")
        if _get(order, "salesChannel", "marketplaceId") != marketplace_id:
            raise invalid(f"marketplaceId {marketplace_id} does not match the marketplace of order {order_id}.")
        if _get(order, "fulfillment", "fulfilledBy") == "AMAZON":
            raise invalid(f"Order {order_id} is fulfilled by Amazon; the seller cannot confirm its shipment.")
        status = _get(order, "fulfillment", "fulfillmentStatus")
        if status in ("PENDING", "PENDING_AVAILABILITY", "CANCELLED", "UNFULFILLABLE"):
            raise invalid(f"Order {order_id} is {status} and cannot be shipped.")
        ref = package["packageReferenceId"]
        if any(p.get("packageReferenceId") == ref for p in order.get("packages", [])):
            raise invalid(f"Package {ref} was already confirmed for order {order_id}.")
        items = {i.get("orderItemId"): i for i in order.get("orderItems", [])}
        for line in package["orderItems"]:
            item_id, qty = line["orderItemId"], line["quantity"]
            if item_id not in items:
                raise invalid(f"orderItemId {item_id} is not part of order {order_id}.")
            open_qty = _get(items[item_id], "fulfillment", "quantityUnfulfilled") or 0
            if qty > open_qty:
                raise invalid(f"quantity {qty} for orderItemId {item_id} exceeds the {open_qty} unit(s) still to ship.")
        for line in package["orderItems"]:
            state = items[line["orderItemId"]].setdefault("fulfillment", {})
            state["quantityFulfilled"] = state.get("quantityFulfilled", 0) + line["quantity"]
            state["quantityUnfulfilled"] = state.get("quantityUnfulfilled", 0) - line["quantity"]
        remaining = sum(_get(i, "fulfillment", "quantityUnfulfilled") or 0 for i in items.values())
        order.setdefault("fulfillment", {})["fulfillmentStatus"] = "PARTIALLY_SHIPPED" if remaining else "SHIPPED"
        now = iso(self.now())
        entry = {"packageReferenceId": ref, "createdTime": now, "packageStatus": {"status": "SHIPPED"},
                 "carrier": package["carrierName"] if package["carrierCode"] == "Other" else package["carrierCode"],
                 "shipTime": iso(package["shipDate"])}
        if package.get("shippingMethod"):
            entry["shippingService"] = package["shippingMethod"]
        entry["trackingNumber"] = package["trackingNumber"]
        entry["packageItems"] = [dict(line) for line in package["orderItems"]]
        order.setdefault("packages", []).append(entry)
        order["lastUpdatedTime"] = now

    def record_confirmation(self, record: dict, accepted: bool, status: int, error: str | None = None) -> None:
        """Keep every confirmShipment call, accepted or not, so tests can spot duplicates."""
        with self._lock:
            self._confirmations.append({**record, "receivedAt": iso(self.now()), "accepted": accepted,
                                        "statusCode": status, "error": error})

    def confirmations(self, order_id: str | None = None) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._confirmations if order_id is None or c.get("orderId") == order_id]

    # -- tokens and counters -------------------------------------------------------------------

    def issue_token(self, lifetime_seconds: int) -> str:
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = self.now() + timedelta(seconds=lifetime_seconds)
        return token

    def token_state(self, token: str | None) -> str:
        """``valid``, ``expired`` or ``unknown`` (against the world clock, so tests can age tokens)."""
        with self._lock:
            expires = self._tokens.get(token or "")
            if expires is None:
                return "unknown"
            return "valid" if self.now() < expires else "expired"

    def count(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {op: self._counts[op] for op in OPERATIONS}


def _get(mapping: Any, *path: str) -> Any:
    """Nested lookup that tolerates missing or malformed levels (tests craft broken orders)."""
    for key in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping


def _day_end(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=59)
