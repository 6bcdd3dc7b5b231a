"""How the Amazon sandbox writes an order: ids, buyers and addresses per country, prices in the
marketplace's currency, every dataset of the Orders API v2026-01-01 filled in, statuses applied.
:mod:`ordersync.sandbox.world` keeps the orders and the clock.
"""

from __future__ import annotations

import copy
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from ordersync.marketplaces import AmazonMarketplace
from ordersync.sandbox.catalog import Product

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


class OrderFactory:
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


def product_fields(product: Product, currency: str) -> dict:
    return {"sellerSku": product.sku, "asin": product.asin, "title": product.title,
            "unitPrice": str(local_price(product.price_eur, currency))}


def _day_end(moment: datetime) -> datetime:
    return moment.replace(hour=23, minute=59, second=59)
