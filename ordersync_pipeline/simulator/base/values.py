"""Times, money and the override sentinel, as every simulator keeps and serves them.

Times are integer UTC epoch seconds and money integer cents: cheap to store for 100,000 orders,
turned into RFC 3339 strings and decimal strings only when served.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class _Delete:
    """Sentinel: an override with this value removes the key from the served payload."""

    _instance: _Delete | None = None

    def __new__(cls) -> _Delete:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()
#: the same sentinel, spelt for JSON bodies of the control API
DELETE_JSON = "__DELETE__"


def from_json(value: Any) -> Any:
    """A control-API body with the DELETE sentinel, which JSON spells as a string, read back."""
    if isinstance(value, dict):
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return DELETE if value == DELETE_JSON else value


def to_ts(value: datetime | str | int | float) -> int:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        value = parse_datetime(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def parse_datetime(text: str) -> datetime:
    """RFC 3339 (``Z`` or an offset; a missing offset means UTC). Raises ``ValueError``."""
    text = text.strip()
    if " " in text and "T" in text:  # a '+' decoded as a space in a query string
        text = text.replace(" ", "+")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def to_cents(value: Any) -> int:
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a price: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not a price: {value!r}")
    return int((amount * 100).quantize(Decimal(1)))
