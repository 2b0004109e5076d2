"""The simulated shop's goods and customers, the same on every marketplace.

Every simulator draws its catalogue from its seed through ``build_catalogue``, so that one seed
gives every marketplace the same SKUs with the same stock, each under its own listing ids.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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
#: the grade is the SKU's last letter
GRADES = ("A", "B", "C")

FIRST_NAMES = ("Camille", "Lucas", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Jules", "Inès", "Arthur")
LAST_NAMES = ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy")
STREETS = ("rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue du Moulin", "place Bellecour")


@dataclass(slots=True)
class Product:
    sku: str
    title: str
    brand: str
    price: Decimal
    quantity: int
    grade: str
    uuid: str
    product_uuid: str


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _grade_of(sku: str) -> str:
    letter = sku.rsplit("-", 1)[-1]
    return letter if letter in GRADES else "A"


def build_catalogue(rng: random.Random, skus: Any) -> list[Product]:
    """Products for ``skus``: None (the default dozen), a count, SKU strings or dicts."""
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
    products = []
    for spec in specs:
        sku = spec["sku"]
        # drawn in this order for every marketplace: the two ids, then the stock
        listing_uuid, product_uuid = _uuid(rng), _uuid(rng)
        products.append(
            Product(
                sku=sku,
                title=spec.get("product") or spec.get("title") or f"Refurbished device {sku}",
                brand=spec.get("brand", "apple"),
                price=Decimal(str(spec.get("price", "199.00"))).quantize(Decimal("0.01")),
                quantity=int(spec["quantity"]) if "quantity" in spec else rng.randint(5, 30),
                grade=_grade_of(sku),
                uuid=listing_uuid,
                product_uuid=product_uuid,
            )
        )
    return products
