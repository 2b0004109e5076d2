"""Set units on hand and marketplace listings from a stock file, or from a simulator catalogue.

The CSV format, one row per SKU::

    sku,on_hand,listing:backmarket-fr,buffer:backmarket-fr,max:backmarket-fr,listing:backmarket-de
    IPHONE13-128-BLK,5,BM-77812,1,3,RF-1029
    PIXEL7-128-WHT,2,BM-77813,,,

* ``sku`` and ``on_hand`` (an integer >= 0) are required. on_hand is the count from the shelf: it
  replaces the stored number; units held by open orders are not subtracted from it.
* ``listing:<marketplace code>``: the listing reference of that SKU on that marketplace. Empty
  means "this file says nothing about that listing": an existing one is left as it is.
* ``buffer:<code>`` (integer >= 0, default 0) and ``max:<code>`` (integer >= 0, empty for no
  maximum) are that listing's rules; they need a ``listing:<code>`` column.

A bad row (a non-integer or negative number, an empty SKU, a SKU already seen, a listing on a
marketplace code the database does not know) is reported with its line number and skipped as a
whole; the other rows are imported. Headers that cannot be understood are reported on line 1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, case, select

from ordersync_pipeline.db.statements import insert_for
from ordersync_pipeline.db.tables import inventory, marketplace_stock, marketplaces, utcnow
from ordersync_pipeline.stock.apply import promote_waiting
from ordersync_pipeline.stock.stock_file import StockFileError, read_stock_file

LISTING, BUFFER, MAX = "listing:", "buffer:", "max:"


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
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Listing:
    marketplace_code: str
    listing_ref: str
    buffer: int = 0
    max_quantity: int | None = None


_REQUIRED = object()


def _count(text: str | None, what: str, default: Any = _REQUIRED) -> int | None:
    """A count from a cell: an integer >= 0; an empty cell is ``default``, or an error without one."""
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


def import_stock(engine: Engine, csv_path: str | Path) -> ImportReport:
    """Import a stock file (format above): valid rows are written, bad ones reported."""
    path = Path(csv_path)
    stock_file = read_stock_file(path)  # encoding and delimiter as spreadsheets write them
    report = ImportReport()
    with engine.connect() as conn:
        known = set(conn.execute(select(marketplaces.c.code)).scalars())
        reader = stock_file.rows()
        header = [name.strip() for name in reader.fieldnames or []]
        reader.fieldnames = header
        if "sku" not in header or "on_hand" not in header:
            raise StockFileError(f"stock file {path}: the header needs 'sku' and 'on_hand' columns")
        codes = _listing_codes(header, report)
        unknown = sorted(set(codes) - known)
        if unknown:
            report.errors.append(RowError(1, f"unknown marketplace code(s): {', '.join(unknown)}"))

        stock: dict[str, int] = {}
        listings: list[tuple[str, Listing]] = []
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
    _write(engine, stock, listings, report)
    return report


def _listing_codes(header: list[str], report: ImportReport) -> list[str]:
    codes = [name[len(LISTING) :] for name in header if name.startswith(LISTING)]
    for name in header:
        if name in ("sku", "on_hand") or name.startswith(LISTING):
            continue
        prefix, _, code = name.partition(":")
        if f"{prefix}:" not in (BUFFER, MAX):
            report.errors.append(RowError(1, f"unknown column {name!r} (ignored)"))
        elif code not in codes:
            report.errors.append(RowError(1, f"column {name!r} has no 'listing:{code}' column (ignored)"))
    return codes


def _parse_row(
    row: Mapping[str, Any], codes: list[str], known: set[str], seen: Mapping[str, int]
) -> tuple[str, int, list[Listing]]:
    if None in row:
        raise ValueError("more fields than the header has")
    sku = (row.get("sku") or "").strip()
    if not sku:
        raise ValueError("sku is empty")
    if sku in seen:
        raise ValueError(f"sku {sku!r} appears twice (the first row is kept)")
    on_hand = _count(row.get("on_hand"), "on_hand")
    found: list[Listing] = []
    for code in codes:
        ref = (row.get(LISTING + code) or "").strip()
        if not ref:
            continue
        if code not in known:
            raise ValueError(f"listing on unknown marketplace {code!r}")
        buffer = _count(row.get(BUFFER + code), f"buffer:{code}", default=0)
        max_quantity = _count(row.get(MAX + code), f"max:{code}", default=None)
        found.append(Listing(code, ref, buffer, max_quantity))
    return sku, on_hand, found


def seed_stock(
    engine: Engine, rows: Iterable[Mapping[str, Any]], marketplace_codes: Iterable[str] | None = None
) -> ImportReport:
    """Seed stock from a catalogue: dicts with ``sku``, ``on_hand`` and the listings.

    The listings are either ``listings``, a mapping of marketplace code to a listing reference
    (or to a dict with ``listing_ref``, ``buffer``, ``max_quantity``), or a single
    ``listing_ref`` listed on each of ``marketplace_codes`` (default: every active marketplace),
    which suits a simulator that uses the same references for every account. A simulator
    catalogue's own names are understood too: ``quantity`` for on_hand, ``listing_id`` for the
    listing reference, so ``seed_stock(engine, simulator.world.catalogue())`` works as it is.
    """
    report = ImportReport()
    with engine.connect() as conn:
        active = select(marketplaces.c.code).where(marketplaces.c.active.is_(True))
        default_codes = (
            list(marketplace_codes) if marketplace_codes is not None else list(conn.execute(active).scalars())
        )
        known = set(conn.execute(select(marketplaces.c.code)).scalars())
    stock: dict[str, int] = {}
    listings: list[tuple[str, Listing]] = []
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
                if code not in known:
                    raise ValueError(f"listing on unknown marketplace {code!r}")
                spec = spec if isinstance(spec, Mapping) else {"listing_ref": spec}
                buffer = _count(_text(spec.get("buffer")), "buffer", default=0)
                max_quantity = _count(_text(spec.get("max_quantity")), "max_quantity", default=None)
                found.append((sku, Listing(code, str(spec["listing_ref"]), buffer, max_quantity)))
        except (KeyError, ValueError) as exc:
            report.errors.append(RowError(n, str(exc)))
            continue
        stock[sku] = count
        listings.extend(found)
    _write(engine, stock, listings, report)
    return report


def _write(engine: Engine, stock: dict[str, int], listings: list[tuple[str, Listing]], report: ImportReport) -> None:
    """One upsert for inventory, one for listings, then give freed units to waiting orders."""
    now = utcnow()
    with engine.begin() as conn:
        if stock:
            stmt = insert_for(conn, inventory)
            stmt = stmt.on_conflict_do_update(
                index_elements=["sku"], set_={"on_hand": stmt.excluded.on_hand, "updated_at": now}
            )
            # In SKU order, like every writer of inventory, so that row locks queue, not deadlock.
            conn.execute(stmt, [{"sku": s, "on_hand": stock[s], "updated_at": now} for s in sorted(stock)])
        if listings:
            _upsert_listings(conn, listings)
        report.promoted += promote_waiting(conn, sorted(stock))
    report.skus += len(stock)
    report.listings += len(listings)


def _upsert_listings(conn: Connection, listings: list[tuple[str, Listing]]) -> None:
    ids = dict(conn.execute(select(marketplaces.c.code, marketplaces.c.id)).all())
    stmt = insert_for(conn, marketplace_stock)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=["marketplace_id", "sku"],
        set_={
            "listing_ref": excluded.listing_ref,
            "buffer": excluded.buffer,
            "max_quantity": excluded.max_quantity,
            # A different listing has never been sent a quantity: push it next time.
            "pushed_quantity": case(
                (marketplace_stock.c.listing_ref == excluded.listing_ref, marketplace_stock.c.pushed_quantity),
                else_=None,
            ),
        },
    )
    rows = {
        (ids[listing.marketplace_code], sku): {
            "marketplace_id": ids[listing.marketplace_code],
            "sku": sku,
            "listing_ref": listing.listing_ref,
            "buffer": listing.buffer,
            "max_quantity": listing.max_quantity,
            "locked_quantity": 0,
        }
        for sku, listing in listings
    }
    conn.execute(stmt, [rows[key] for key in sorted(rows)])
