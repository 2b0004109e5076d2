"""Parsing helpers every adapter shares: times, blank strings, and a page of orders parsed one by one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from ordersync_pipeline.marketplaces.base import Order, Page, RecordError


def as_utc(value: datetime) -> datetime:
    """RFC 3339 carries an offset; a value without one is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def blank_to_none(value: Any) -> Any:
    # Marketplaces send "" for a document or tracking number they have not made yet.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def parse_orders(raws: Iterable[Any], parse: Callable[[Any], Order], reference_of: Callable[[Any], str | None]) -> Page:
    """Each order on its own: one that does not parse is a ``RecordError``, the others go on."""
    page = Page()
    for raw in raws:
        try:
            page.orders.append(parse(raw))
        except ValueError as exc:
            page.errors.append(RecordError(reference=reference_of(raw), error=str(exc), raw=raw))
    return page
