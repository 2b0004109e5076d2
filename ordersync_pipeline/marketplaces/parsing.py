"""Parsing helpers every adapter shares: times, blank strings, payloads validated with an error
naming their fields, and a page of orders parsed one by one."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ordersync_pipeline.marketplaces.base import Order, Page, RecordError

M = TypeVar("M", bound=BaseModel)


def as_utc(value: datetime) -> datetime:
    """RFC 3339 carries an offset; a value without one is taken as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def known(what: str, choices: Collection[Any], listed: Callable[[Collection[Any]], str] = ", ".join) -> Callable:
    """A validator of a value that must be one of ``choices``: the error names it and lists them."""

    def check(value: Any) -> Any:
        if value not in choices:
            raise ValueError(f"unknown {what} {value!r} (known: {listed(choices)})")
        return value

    return check


def blank_to_none(value: Any) -> Any:
    # Marketplaces send "" for a document or tracking number they have not made yet.
    if isinstance(value, str) and not value.strip():
        return None
    return value


def payload_id(raw: Any, key: str) -> str | None:
    """Find the id of a payload under ``key``, if it has one worth naming, even when the payload is
    otherwise broken."""
    if not isinstance(raw, dict):
        return None
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        return None
    return str(value).strip() or None


def describe(exc: ValidationError, union_tags: frozenset[str] = frozenset()) -> str:
    """Say in one line what is wrong, naming each field (without echoing the values).

    A union field reports one error per member, tagged with the member's type: ``union_tags``
    are the tags to drop from the field's path."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        parts = [p for p in err["loc"] if p not in union_tags]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
        problems.append(f"{loc or 'payload'}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(dict.fromkeys(problems))


def validated(model: type[M], raw: Any, what: str, key: str, union_tags: frozenset[str] = frozenset()) -> M:
    """Validate ``raw`` as ``model``; a ``ValueError`` naming the record (``what`` and its id under
    ``key``) and the fields that are wrong if it is not one."""
    if not isinstance(raw, dict):
        raise ValueError(f"{what} payload is a {type(raw).__name__}, not an object")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{what} {payload_id(raw, key) or f'(no {key})'}: {describe(exc, union_tags)}") from None


def parse_orders(raws: Iterable[Any], parse: Callable[[Any], Order], reference_of: Callable[[Any], str | None]) -> Page:
    """Each order on its own: one that does not parse is a ``RecordError``, the others go on."""
    page = Page()
    for raw in raws:
        try:
            page.orders.append(parse(raw))
        except ValueError as exc:
            page.errors.append(RecordError(reference=reference_of(raw), error=str(exc), raw=raw))
    return page
