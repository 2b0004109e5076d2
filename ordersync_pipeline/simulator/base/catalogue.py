"""The simulated shop's goods and customers, the same on every marketplace.

Every simulator draws its catalogue from its seed through ``build_catalogue``, so that one seed
gives every marketplace the same SKUs with the same stock, each under its own listing ids.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

#: the default dozen: sku, title, brand, price (in ``products.json`` beside this module)
DEFAULT_PRODUCTS: tuple[tuple[str, str, str, str], ...] = tuple(
    (p["sku"], p["title"], p["brand"], p["price"])
    for p in json.loads(resources.files(__package__).joinpath("products.json").read_text(encoding="utf-8"))
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
