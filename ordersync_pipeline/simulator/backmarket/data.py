"""Fixed data the simulated shop is made of: its catalogue and its customers."""

from __future__ import annotations

import random
import unicodedata
import uuid
from decimal import Decimal
from typing import Any

from .model import Listing

# sku, title, brand, price
DEFAULT_PRODUCTS: tuple[tuple[str, str, str, str], ...] = (
    ("IPH13-128-BLK-A", "iPhone 13 128 GB - Midnight - Unlocked", "apple", "429.00"),
    ("IPH12-64-BLU-B", "iPhone 12 64 GB - Blue - Unlocked", "apple", "289.00"),
    ("IPH14P-256-GLD-A", "iPhone 14 Pro 256 GB - Gold - Unlocked", "apple", "789.00"),
    ("IPHSE-64-RED-C", "iPhone SE (2020) 64 GB - Red - Unlocked", "apple", "139.00"),
    ("SGS22-128-GRN-A", "Galaxy S22 5G 128 GB - Green - Unlocked", "samsung", "349.00"),
    ("SGS21-256-GRY-B", "Galaxy S21 5G 256 GB - Phantom Grey - Unlocked", "samsung", "269.00"),
    ("PIX7-128-WHT-A", "Pixel 7 128 GB - Snow - Unlocked", "google", "329.00"),
    ("IPAD9-64-GRY-A", "iPad 10.2 (2021) 9th gen 64 GB - Space Grey - Wi-Fi", "apple", "259.00"),
    ("MBA-M1-256-SLV-A", "MacBook Air 13 (2020) M1 8 GB 256 GB SSD - Silver - AZERTY", "apple", "649.00"),
    ("MBP14-512-GRY-B", "MacBook Pro 14 (2021) M1 Pro 16 GB 512 GB SSD - Space Grey", "apple", "1299.00"),
    ("XPS13-I7-512-SLV-B", "Dell XPS 13 9310 Core i7 16 GB 512 GB SSD - Silver - AZERTY", "dell", "599.00"),
    ("TPX1-I5-256-BLK-C", "Lenovo ThinkPad X1 Carbon Gen 8 Core i5 16 GB 256 GB SSD", "lenovo", "449.00"),
)

GRADES = {"A": "EXCELLENT", "B": "GOOD", "C": "FAIR"}
CONDITIONS = {"A": 10, "B": 11, "C": 12}  # ProductCondition codes
LISTING_STATES = {"A": 0, "B": 2, "C": 3}  # deprecated ListingStateValue codes

FIRST_NAMES = ("Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Inès", "Arthur")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy")
STREETS = ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue du Moulin", "place Bellecour")
CITIES = {
    "fr-fr": (("Paris", "75011"), ("Lyon", "69002"), ("Bordeaux", "33000"), ("Lille", "59000")),
    "fr-be": (("Bruxelles", "1000"), ("Liège", "4000")),
    "de-de": (("Berlin", "10115"), ("München", "80331")),
    "es-es": (("Madrid", "28001"), ("Barcelona", "08001")),
    "it-it": (("Roma", "00184"), ("Milano", "20121")),
}
COUNTRY_OF = {"fr-fr": "FR", "fr-be": "BE", "de-de": "DE", "es-es": "ES", "it-it": "IT"}
# seeded and arriving orders come from these markets, weighted towards France
ORDER_COUNTRIES = ("fr-fr",) * 7 + ("fr-be", "de-de", "es-es", "it-it")
CARRIERS = (
    ("COLISSIMO", "Colissimo", "https://www.laposte.fr/outils/suivre-vos-envois?code="),
    ("CHRONOPOST", "Chronopost", "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT="),
)
CARE_ISSUES = (
    ("BATTERY_NOT_CHARGING", "TECHNICAL"),
    ("SCREEN_DEFECT", "TECHNICAL"),
    ("COSMETIC_DAMAGE", "AESTHETIC"),
    ("WRONG_ITEM", "LOGISTIC"),
)
RESOLUTIONS = ("REPAIR", "REPLACE", "REFUND", "REMOTE_ASSISTANCE", "REPAIR_REPLACE")
MERCHANT_ID = 4242


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _grade_of(sku: str) -> str:
    letter = sku.rsplit("-", 1)[-1]
    return letter if letter in GRADES else "A"


def build_catalogue(rng: random.Random, skus: Any) -> list[Listing]:
    """Listings for ``skus``: None (the default dozen), a count, SKU strings or dicts."""
    specs: list[dict[str, Any]] = []
    if skus is None or isinstance(skus, int):
        count = len(DEFAULT_PRODUCTS) if skus is None else int(skus)
        for i in range(count):
            sku, title, brand, price = DEFAULT_PRODUCTS[i % len(DEFAULT_PRODUCTS)]
            if i >= len(DEFAULT_PRODUCTS):
                base, grade = sku.rsplit("-", 1)
                sku, title = f"{base}-V{i // len(DEFAULT_PRODUCTS)}-{grade}", f"{title} (V{i // 12})"
            specs.append({"sku": sku, "product": title, "brand": brand, "price": price})
    else:
        for entry in skus:
            specs.append({"sku": entry} if isinstance(entry, str) else dict(entry))
    listings = []
    for i, spec in enumerate(specs):
        sku = spec["sku"]
        listings.append(
            Listing(
                listing_id=4001 + i,
                uuid=_uuid(rng),
                product_uuid=_uuid(rng),
                backmarket_id=900 + i,
                sku=sku,
                title=spec.get("product") or spec.get("title") or f"Refurbished device {sku}",
                brand=spec.get("brand", "apple"),
                price=Decimal(str(spec.get("price", "199.00"))).quantize(Decimal("0.01")),
                quantity=int(spec["quantity"]) if "quantity" in spec else rng.randint(5, 30),
                grade=_grade_of(sku),
            )
        )
    return listings


def address(customer: int, country: str) -> dict[str, Any]:
    """A customer's address, derived from the customer number alone (nothing stored per order)."""
    first = FIRST_NAMES[customer % len(FIRST_NAMES)]
    last = LAST_NAMES[(customer // 7) % len(LAST_NAMES)]
    cities = CITIES.get(country, CITIES["fr-fr"])
    city, postal_code = cities[(customer // 3) % len(cities)]
    return {
        "company": "",
        "first_name": first,
        "last_name": last,
        "street": f"{customer % 180 + 1} {STREETS[customer % len(STREETS)]}",
        "street2": "",
        "postal_code": postal_code,
        "city": city,
        "country": COUNTRY_OF.get(country, "FR"),
        "phone": f"+336{customer % 100_000_000:08d}",
        "email": f"{_ascii(first)}.{_ascii(last)}.{customer}@example.com",
    }


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def carrier(order_id: int) -> tuple[str, str, str]:
    return CARRIERS[order_id % len(CARRIERS)]
