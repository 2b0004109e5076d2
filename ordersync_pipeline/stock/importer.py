"""Set units on hand and marketplace listings from a stock file, or from a simulator catalogue.

The CSV format, one row per SKU::

    sku,on_hand,listing:backmarket-fr,buffer:backmarket-fr,max:backmarket-fr,listing_sku:refurbed-de
    IPHONE13-128-BLK,5,4001,1,3,IPHONE13-128-BLK
    PIXEL7-128-WHT,2,4002,,,4006381333931

* ``sku`` and ``on_hand`` (an integer >= 0) are required. on_hand is the shelf count of that SKU,
  taken at the count time (``counted_at``, default: when the file is imported). Units held by
  open orders are on the shelf, so they are in it and not subtracted. Units that left after the
  count time and are already known to have left (an order shipped between the count and the
  import) are subtracted; units that left before it are not in the count and change nothing.
* ``listing:<marketplace code>``: the listing of that SKU on that marketplace, named by the
  marketplace's own listing id (Back Market's listing id, Refurbed's offer id).
* ``listing_sku:<marketplace code>``: the same listing named by the offer's SKU instead, for a
  marketplace that takes one (Refurbed; not Back Market, whose listings are set by id). A SKU
  made only of digits is a SKU here, never an id: what a listing is named by is the column's,
  not guessed from its characters.
* An empty listing cell means "this file says nothing about that listing": an existing one is
  left as it is. A row naming one listing both ways is refused.
* ``buffer:<code>`` (integer >= 0, default 0) and ``max:<code>`` (integer >= 0, empty for no
  maximum) are that listing's rules; they need a ``listing:<code>`` or ``listing_sku:<code>`` column.

A bad row (a non-integer or negative number, an empty SKU, a SKU already seen, a listing on a
marketplace code the database does not know, a listing named in a way its marketplace does not
take) is reported with its line number and skipped as a whole; the other rows are imported.
Headers that cannot be understood are reported on line 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, case, func, select, update

from ordersync_pipeline.db.statements import begin_write, insert_for, one_of
from ordersync_pipeline.db.tables import (
    inventory,
    marketplace_stock,
    marketplace_stock_locks,
    marketplaces,
    order_items,
    utc_naive,
    utcnow,
)
from ordersync_pipeline.marketplaces.base import ListingKind
from ordersync_pipeline.marketplaces.registry import adapter_class
from ordersync_pipeline.stock.apply import lock_inventory, promote_waiting
from ordersync_pipeline.stock.locks import CONSUMED
from ordersync_pipeline.stock.stock_file import StockFileError, read_stock_file

LISTING, LISTING_SKU, BUFFER, MAX = "listing:", "listing_sku:", "buffer:", "max:"
LISTING_COLUMNS = {LISTING: ListingKind.ID, LISTING_SKU: ListingKind.SKU}


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportReport:
    skus: int = 0
    listings: int = 0
    #: short locks that got units because on_hand went up.
    promoted: int = 0
    #: units counted that had left by the time of the import (already applied): taken off the count
    left_since_count: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class StockFileListing:
    marketplace_code: str
    listing_ref: str
    buffer: int = 0
    max_quantity: int | None = None
    listing_kind: ListingKind = ListingKind.ID


_REQUIRED = object()


def _count(text: str | None, what: str, default: Any = _REQUIRED) -> int | None:
    """Read a count from a cell: an integer >= 0; an empty cell is ``default``, or an error without one."""
    text = (text or "").strip()
    if not text:
        if default is _REQUIRED:
            raise ValueError(f"{what} is empty")
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not an integer") from None
    if value < 0:
        raise ValueError(f"{what} {value} is negative")
    return value


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def import_stock(engine: Engine, csv_path: str | Path, counted_at: datetime | None = None) -> ImportReport:
    """Import a stock file (format above) counted at ``counted_at`` (default now): valid rows
    are written, bad ones reported."""
    counted_at = count_time(counted_at)
    path = Path(csv_path)
    stock_file = read_stock_file(path)  # encoding and delimiter as spreadsheets write them
    report = ImportReport()
    with engine.connect() as conn:
        known = dict(conn.execute(select(marketplaces.c.code, marketplaces.c.kind)).all())
        reader = stock_file.rows()
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        if "sku" not in header or "on_hand" not in header:
            raise StockFileError(f"stock file {path}: the header needs 'sku' and 'on_hand' columns")
        codes = _listing_codes(header, report)
        unknown = sorted(set(codes) - set(known))
        if unknown:
            report.errors.append(RowError(1, f"unknown marketplace code(s): {', '.join(unknown)}"))

        stock: dict[str, int] = {}
        listings: list[tuple[str, StockFileListing]] = []
        for row in reader:
            line = reader.line_num
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # a blank line
            try:
                sku, on_hand, row_listings = _parse_row(row, codes, known, stock)
            except ValueError as exc:
                report.errors.append(RowError(line, str(exc)))
                continue
            stock[sku] = on_hand
            listings.extend((sku, listing) for listing in row_listings)
    _write(engine, stock, listings, report, counted_at)
    return report


def count_time(counted_at: datetime | None) -> datetime:
    """Turn a count time into what is stored (naive UTC; naive means UTC); now if None. Never in the future:
    a count dated later than it was taken would keep the units shipped since on the shelf."""
    now = utcnow()
    if counted_at is None:
        return now
    counted_at = utc_naive(counted_at)
    if counted_at > now:
        raise StockFileError(f"the count time {counted_at:%Y-%m-%d %H:%M:%S} UTC is in the future")
    return counted_at


def _listing_codes(header: list[str], report: ImportReport) -> list[str]:
    codes = list(dict.fromkeys(_code(name) for name in header if _code(name) is not None))
    for name in header:
        if name in ("sku", "on_hand") or _code(name) is not None:
            continue
        prefix, _, code = name.partition(":")
        if f"{prefix}:" not in (BUFFER, MAX):
            report.errors.append(RowError(1, f"unknown column {name!r} (ignored)"))
        elif code not in codes:
            report.errors.append(
                RowError(1, f"column {name!r} has no 'listing:{code}' or 'listing_sku:{code}' column (ignored)")
            )
    return codes


def _code(column: str) -> str | None:
    """Find the marketplace code of a listing column, or None for another column."""
    for prefix in LISTING_COLUMNS:
        if column.startswith(prefix):
            return column[len(prefix) :]
    return None


def _listing(code: str, kind: ListingKind, ref: str, marketplace_kind: str | None) -> None:
    """Refuse a listing its marketplace cannot be sent (ValueError naming why)."""
    if marketplace_kind is None:
        raise ValueError(f"listing on unknown marketplace {code!r}")
    problem = adapter_class(marketplace_kind).listing_problem(kind, ref)
    if problem:
        raise ValueError(f"{code}: {problem}")


def _parse_row(
    row: Mapping[str, Any], codes: list[str], known: Mapping[str, str], seen: Mapping[str, int]
) -> tuple[str, int, list[StockFileListing]]:
    if None in row:
        raise ValueError("more fields than the header has")
    sku = (row.get("sku") or "").strip()
    if not sku:
        raise ValueError("sku is empty")
    if sku in seen:
        raise ValueError(f"sku {sku!r} appears twice (the first row is kept)")
    on_hand = _count(row.get("on_hand"), "on_hand")
    found: list[StockFileListing] = []
    for code in codes:
        named = {kind: (row.get(prefix + code) or "").strip() for prefix, kind in LISTING_COLUMNS.items()}
        named = {kind: ref for kind, ref in named.items() if ref}
        if not named:
            continue
        if len(named) > 1:
            raise ValueError(f"the listing on {code} is given both by id and by SKU: give one")
        [(kind, ref)] = named.items()
        _listing(code, kind, ref, known.get(code))
        buffer = _count(row.get(BUFFER + code), f"buffer:{code}", default=0)
        max_quantity = _count(row.get(MAX + code), f"max:{code}", default=None)
        found.append(StockFileListing(code, ref, buffer, max_quantity, kind))
    return sku, on_hand, found


def seed_stock(
    engine: Engine,
    rows: Iterable[Mapping[str, Any]],
    marketplace_codes: Iterable[str] | None = None,
    counted_at: datetime | None = None,
) -> ImportReport:
    """Seed stock from a catalogue, counted at ``counted_at`` (default now): dicts with ``sku``,
    ``on_hand`` and the listings.

    The listings are either ``listings``, a mapping of marketplace code to a listing id (or to
    a dict with ``listing_ref``, ``listing_kind`` (default ``id``), ``buffer``,
    ``max_quantity``), or a single ``listing_ref`` listed on each of ``marketplace_codes``
    (default: every active marketplace), which suits a simulator that uses the same references
    for every account. A simulator catalogue's own names are understood too: ``quantity`` for
    on_hand, ``listing_id`` for the listing id, so ``seed_stock(engine,
    simulator.world.catalogue())`` works as it is.
    """
    counted_at = count_time(counted_at)
    report = ImportReport()
    with engine.connect() as conn:
        active = select(marketplaces.c.code).where(marketplaces.c.active.is_(True))
        default_codes = (
            list(marketplace_codes) if marketplace_codes is not None else list(conn.execute(active).scalars())
        )
        known = dict(conn.execute(select(marketplaces.c.code, marketplaces.c.kind)).all())
    stock: dict[str, int] = {}
    listings: list[tuple[str, StockFileListing]] = []
    for n, row in enumerate(rows, start=1):
        try:
            sku = str(row.get("sku") or "").strip()
            if not sku:
                raise ValueError("sku is empty")
            count = _count(_text(row.get("on_hand", row.get("quantity"))), "on_hand")
            given = row.get("listings")
            ref = row.get("listing_ref", row.get("listing_id"))
            if given is None and ref not in (None, ""):
                given = {code: str(ref) for code in default_codes}
            found = []
            for code, spec in (given or {}).items():
                spec = spec if isinstance(spec, Mapping) else {"listing_ref": spec}
                kind = ListingKind(spec.get("listing_kind", ListingKind.ID))
                ref = str(spec["listing_ref"]).strip()
                _listing(code, kind, ref, known.get(code))
                buffer = _count(_text(spec.get("buffer")), "buffer", default=0)
                max_quantity = _count(_text(spec.get("max_quantity")), "max_quantity", default=None)
                found.append((sku, StockFileListing(code, ref, buffer, max_quantity, kind)))
        except (KeyError, ValueError) as exc:
            report.errors.append(RowError(n, str(exc)))
            continue
        stock[sku] = count
        listings.extend(found)
    _write(engine, stock, listings, report, counted_at)
    return report


def _write(
    engine: Engine,
    stock: dict[str, int],
    listings: list[tuple[str, StockFileListing]],
    report: ImportReport,
    counted_at,
) -> None:
    """Write the counts and listings in one transaction, a fixed number of statements, then freed
    units given to waiting orders.

    The SKUs' inventory rows are locked first (in SKU order, like every writer of inventory, so
    that row locks queue, not deadlock): a stock apply consuming a unit of one of them either
    committed before, and its unit is subtracted here if it left after the count, or waits,
    and then finds the new count and its time."""
    now = utcnow()
    with engine.begin() as conn:
        begin_write(conn)
        if stock:
            skus = sorted(stock)
            conn.execute(
                insert_for(conn, inventory).on_conflict_do_nothing(index_elements=["sku"]),
                [{"sku": sku, "on_hand": 0, "updated_at": now} for sku in skus],
            )
            lock_inventory(conn, skus)
            gone = units_left_since(conn, skus, counted_at)
            report.left_since_count = sum(gone.values())
            conn.execute(
                update(inventory)
                .where(inventory.c.sku == bindparam("b_sku"))
                .values(on_hand=bindparam("b_on_hand"), counted_at=counted_at, updated_at=now),
                [{"b_sku": sku, "b_on_hand": max(0, stock[sku] - gone.get(sku, 0))} for sku in skus],
            )
        if listings:
            _upsert_listings(conn, listings)
        report.promoted += promote_waiting(conn, sorted(stock))
    report.skus += len(stock)
    report.listings += len(listings)


def units_left_since(conn: Connection, skus: list[str], counted_at) -> dict[str, int]:
    """Count the units of ``skus`` whose locks are consumed and that left at or after ``counted_at``: they
    were on the shelf when it was counted, and already applied as gone. One query, reading only
    the items that left since (by the index on ``shipped_at``)."""
    locks = marketplace_stock_locks
    rows = conn.execute(
        select(locks.c.sku, func.sum(locks.c.quantity))
        .select_from(order_items)
        .join(locks, locks.c.order_item_id == order_items.c.id)
        .where(
            and_(order_items.c.shipped_at >= counted_at, locks.c.status == CONSUMED),
            one_of(conn, locks.c.sku, skus),
        )
        .group_by(locks.c.sku)
    )
    return {sku: int(units) for sku, units in rows}


def _upsert_listings(conn: Connection, listings: list[tuple[str, StockFileListing]]) -> None:
    ids = dict(conn.execute(select(marketplaces.c.code, marketplaces.c.id)).all())
    stmt = insert_for(conn, marketplace_stock)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["marketplace_id", "sku"],
        set_={
            "listing_ref": excluded.listing_ref,
            "listing_kind": excluded.listing_kind,
            "buffer": excluded.buffer,
            "max_quantity": excluded.max_quantity,
            # A different listing has never been sent a quantity: push it next time.
            "pushed_quantity": case(
                (
                    and_(
                        marketplace_stock.c.listing_ref == excluded.listing_ref,
                        marketplace_stock.c.listing_kind == excluded.listing_kind,
                    ),
                    marketplace_stock.c.pushed_quantity,
                ),
                else_=None,
            ),
        },
    )
    rows = {
        (ids[listing.marketplace_code], sku): {
            "marketplace_id": ids[listing.marketplace_code],
            "sku": sku,
            "listing_ref": listing.listing_ref,
            "listing_kind": str(listing.listing_kind),
            "buffer": listing.buffer,
            "max_quantity": listing.max_quantity,
            "locked_quantity": 0,
        }
        for sku, listing in listings
    }
    conn.execute(stmt, [rows[key] for key in sorted(rows)])
