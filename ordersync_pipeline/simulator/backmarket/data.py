"""Back Market's names for the shop's goods, its customers' towns, carriers and care folders."""

from __future__ import annotations

import unicodedata
from typing import Any

from ..base.catalogue import FIRST_NAMES, LAST_NAMES, STREETS

GRADES = {"A": "EXCELLENT", "B": "GOOD", "C": "FAIR"}
CONDITIONS = {"A": 10, "B": 11, "C": 12}  # ProductCondition codes
LISTING_STATES = {"A": 0, "B": 2, "C": 3}  # deprecated ListingStateValue codes

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
