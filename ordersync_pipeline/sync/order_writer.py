"""Diff a batch of orders against the database and write what changed, with its events.

Two steps, so that a sync can prepare one batch while the database writes the one before:

- ``prepare_orders`` reads: one query for the fingerprints of the orders the batch touches, one
  for the rows and one for the items of those that changed. An order listed unparsed
  (``ListedOrder``) is parsed only if its digest is not the one stored. It decides what changed
  and makes the rows to write, items and events naming their order by reference (``StagedRows``);
- ``write_prepared`` writes, in the caller's transaction: one merge per table (the orders' give
  back their ids, which the items and events then take; the events written are queued for the
  stock, ``pending_order_events``), the errors cleared. A batch costs the same statements
  whatever its size, and an event exists exactly when its change does.

Preparing a batch while an earlier one is being written is right as long as the two share no
order: the caller sees to that (``sync.pipeline``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, delete, select, text

from ordersync_pipeline.db.statements import StagedRows, insert_rows, merge, one_of
from ordersync_pipeline.db.tables import (
    order_events,
    order_items,
    orders,
    pending_order_events,
    sync_errors,
    utc_naive,
    utcnow,
)
from ordersync_pipeline.marketplaces.base import (
    DOCUMENT_FIELDS,
    LEFT_STATUSES,
    OPEN_STATUSES,
    ListedOrder,
    Order,
    OrderItem,
    RecordError,
    Status,
)
from ordersync_pipeline.sync import events

# The fields of an order and of an item that the order book keeps: they make its rows, its diff
# and its fingerprint. Documents (``DOCUMENT_FIELDS``) are filled in over time: an answer without
# one never clears what is known.
ORDER_FIELDS = ("status", "marketplace_state", "currency", "total_price", "created_at", "modified_at")
ITEM_FIELDS = ("sku", "listing_ref", "quantity", "unit_price", "status", "marketplace_state", "shipped_at")
_ORDER_AND_DOCUMENTS = ORDER_FIELDS + DOCUMENT_FIELDS
# Each list read off a record in one call: hundreds of thousands of records go through here.
_order_values = attrgetter(*_ORDER_AND_DOCUMENTS)
_item_values = attrgetter(*ITEM_FIELDS)


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    #: events written (known once the batch is)
    events: int = 0
    #: item references (per order reference) that this project has already accepted.
    accepted: dict[str, set[str]] = field(default_factory=dict)


#: how staged items and events name their order until it has an id
BY_ORDER_REFERENCE = ("order_reference", "order_id")


@dataclass
class PreparedBatch:
    """A batch diffed against the database: its rows, staged, and what the diff found."""

    marketplace_id: int
    #: every order of the batch, written or not (their earlier errors are cleared)
    references: list[str]
    orders: StagedRows
    items: StagedRows
    events: StagedRows
    result: BatchResult
    #: the orders that were read (every order but those whose digest matched: none of those has a paid item)
    read: list[Order] = field(default_factory=list)
    #: listed orders of the batch that did not parse
    errors: list[RecordError] = field(default_factory=list)
    #: the references of ``orders``, in their order, when none of them was in the database when
    #: read (a first sync): they can be loaded straight into their tables
    new_orders: list[str] | None = None
    #: open items of the orders read that have no SKU: kept, but no unit can be locked for them
    unstockable: list[RecordError] = field(default_factory=list)


def fingerprint(order: Order) -> str:
    """Digest everything this module stores of ``order``: equal digests, nothing to write.

    The fingerprint of an order handed out parsed; one listed unparsed has its payload's digest."""
    values: list[Any] = [order.reference, *_order_values(order)]
    for item in order.items:
        values.append(item.reference)
        values.extend(_item_values(item))
    text = "\x1f".join(["\x00" if value is None else str(value) for value in values])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _stored_fingerprint(order: Order, digest: str) -> str | None:
    """Choose the fingerprint an order is stored with: an order with a paid item keeps none, so that it never
    matches and is always read (the new sync must know which of its items it accepted already);
    nor does an order with an open item without a SKU, whose error each sync records again."""
    if any(item.status == Status.PAID or _unstockable(item) for item in order.items):
        return None
    return digest


def _unstockable(item: OrderItem) -> bool:
    return item.status in OPEN_STATUSES and not item.has_sku


def _unstockable_errors(order: Order) -> list[RecordError]:
    return [
        RecordError(
            order.reference,
            f"item {item.reference} has no SKU: no unit can be locked for it, so every listing still offers"
            " the unit it sold; set the stock by hand until it ships",
            raw={"order": order.reference, "item": item.reference, "listing_ref": item.listing_ref},
        )
        for item in order.items
        if _unstockable(item)
    ]


def shipped_at(item: OrderItem, order: Order, before: Any | None, now) -> Any:
    """Say when ``item``'s unit left, as stored: the marketplace's time if it gives one, else the time
    stored already, else, for an item that has left, when the sync first saw it gone (``now``) or,
    if the sync never saw it open, when its order was placed (the earliest it can have left)."""
    if item.shipped_at is not None:
        return utc_naive(item.shipped_at)
    if before is not None and before.shipped_at is not None:
        return before.shipped_at
    if item.status not in LEFT_STATUSES:
        return None
    return now if before is not None else utc_naive(order.created_at)


def _order_row(marketplace_id: int, order: Order, existing: Any | None, now, digest: str | None) -> dict[str, Any]:
    """Make the order's row: its fields as they are, but its status as text, its times in UTC, and
    a document the answer left out as the row had it."""
    row = {"marketplace_id": marketplace_id, "reference": order.reference}
    row.update(zip(_ORDER_AND_DOCUMENTS, _order_values(order), strict=True))
    row["status"] = str(order.status)
    row["created_at"] = utc_naive(order.created_at)
    row["modified_at"] = utc_naive(order.modified_at)
    row["synced_at"] = now
    row["fingerprint"] = digest
    if existing is not None:
        for name in DOCUMENT_FIELDS:
            if row[name] is None:
                row[name] = getattr(existing, name)
    return row


def _item_rows(order: Order, accepted_at: dict[str, Any], before: dict[str, Any], now) -> dict[str, dict[str, Any]]:
    """Make the items' rows, by reference: their fields as they are, but the status as text, when
    the unit left as stored (``shipped_at``) and when ordersync accepted the item."""
    rows = {}
    for item in order.items:
        row = {"order_reference": order.reference, "reference": item.reference}
        row.update(zip(ITEM_FIELDS, _item_values(item), strict=True))
        row["status"] = str(item.status)
        row["shipped_at"] = shipped_at(item, order, before.get(item.reference), now)
        row["accepted_at"] = accepted_at.get(item.reference)
        rows[item.reference] = row
    return rows


def _read_before_acceptance(order: Order, items_before: dict[str, Any]) -> bool:
    """Say whether ``order`` was read before an acceptance stored since: an item this project accepted,
    stored past paid, is read paid again. Such a read is older than the order book: written, it would
    step the item back, and the next read would change its status a second time."""
    for item in order.items:
        stored = items_before.get(item.reference)
        if item.status == Status.PAID and stored is not None and stored.accepted_at and stored.status != Status.PAID:
            return True
    return False


def _differs(row: dict[str, Any], existing: Any, names: Iterable[str]) -> bool:
    return any(row[name] != getattr(existing, name) for name in names)


def _latest_per_reference(batch: Iterable[tuple[Order, str]]) -> list[tuple[Order, str]]:
    """An overlap can bring the same order twice: keep its most recent version (and its digest)."""
    latest: dict[str, tuple[Order, str]] = {}
    for order, digest in batch:
        known = latest.get(order.reference)
        if known is None or order.modified_at >= known[0].modified_at:
            latest[order.reference] = (order, digest)
    return list(latest.values())


def _as_listed(order: Order) -> ListedOrder:
    return ListedOrder(order.reference, fingerprint(order), lambda: order)


def _events_for(
    marketplace_id: int, order: Order, existing: Any | None, old_items: dict[str, Any], now
) -> list[dict[str, Any]]:
    new_items = {i.reference: str(i.status) for i in order.items}
    after = events.state_vector(str(order.status), new_items)
    rows = []
    if existing is None:
        opening = str(events.opening_status(order.status))
        opening_items = dict.fromkeys(new_items, opening)
        before = events.state_vector(opening, opening_items)
        rows.append(
            {
                "event_key": events.created_key(marketplace_id, order.reference),
                "type": events.ORDER_CREATED,
                "from_status": None,
                "to_status": opening,
                "payload": events.payload(marketplace_id, order, opening_items),
            }
        )
    else:
        # Items the answer no longer lists keep their stored status.
        known = {ref: row.status for ref, row in old_items.items()}
        before = events.state_vector(existing.status, known)
        after = events.state_vector(str(order.status), known | new_items)
    if before != after:
        rows.append(
            {
                "event_key": events.status_changed_key(marketplace_id, order.reference, before, after),
                "type": events.ORDER_STATUS_CHANGED,
                "from_status": before[0],
                "to_status": after[0],
                "payload": events.payload(marketplace_id, order),
            }
        )
    for row in rows:
        row["created_at"] = now
    return rows


def write_orders(
    conn: Connection,
    marketplace_id: int,
    batch: Sequence[Order],
    accepted_now: dict[str, set[str]] | None = None,
) -> BatchResult:
    """Bring ``orders`` and ``order_items`` in line with ``batch`` and record the events, in the
    caller's transaction. ``accepted_now`` names items (per order reference) just accepted at the
    marketplace."""
    return write_prepared(conn, prepare_orders(conn, marketplace_id, batch, accepted_now))


def prepare_orders(
    conn: Connection,
    marketplace_id: int,
    batch: Sequence[Order | ListedOrder],
    accepted_now: dict[str, set[str]] | None = None,
) -> PreparedBatch:
    """Diff ``batch`` with the database (reading only) and make the rows that bring it in line."""
    result = BatchResult()
    now = utcnow()
    accepted_now = accepted_now or {}
    listed = [entry if isinstance(entry, ListedOrder) else _as_listed(entry) for entry in batch]
    references = [entry.reference for entry in listed if entry.reference is not None]
    known = {}
    if references:
        rows = conn.execute(
            select(orders.c.id, orders.c.reference, orders.c.fingerprint).where(
                orders.c.marketplace_id == marketplace_id, one_of(conn, orders.c.reference, references)
            )
        )
        known = {row.reference: row for row in rows}
    repeated = {reference for reference, count in Counter(references).items() if count > 1}

    def unchanged(entry: ListedOrder) -> bool:
        # The same order twice in a batch is read both times: the latest version wins.
        row = known.get(entry.reference)
        return (
            row is not None
            and row.fingerprint == entry.digest
            and entry.reference not in accepted_now
            and entry.reference not in repeated
        )

    read: list[tuple[Order, str]] = []
    errors: list[RecordError] = []
    for entry in listed:
        if unchanged(entry):
            result.unchanged += 1
            continue
        record = entry.read()
        if isinstance(record, RecordError):
            errors.append(record)
        else:
            read.append((record, entry.digest))
    failed = {error.reference for error in errors}
    latest = _latest_per_reference(read)
    changed = [order for order, _ in latest]
    digests = {order.reference: _stored_fingerprint(order, digest) for order, digest in latest}
    existing: dict[str, Any] = {}
    known_ids = [known[o.reference].id for o in changed if o.reference in known]
    if known_ids:
        rows = conn.execute(select(orders).where(one_of(conn, orders.c.id, known_ids)))
        existing = {row.reference: row for row in rows}
    old_items: dict[int, dict[str, Any]] = {}
    if existing:
        for row in conn.execute(select(order_items).where(one_of(conn, order_items.c.order_id, known_ids))):
            old_items.setdefault(row.order_id, {})[row.reference] = row

    order_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    for order in changed:
        before = existing.get(order.reference)
        items_before = old_items.get(before.id, {}) if before is not None else {}
        accepted_at = {ref: row.accepted_at for ref, row in items_before.items() if row.accepted_at}
        for ref in accepted_now.get(order.reference, ()):
            accepted_at.setdefault(ref, now)
        result.accepted[order.reference] = set(accepted_at)
        if _read_before_acceptance(order, items_before):
            result.unchanged += 1
            continue

        row = _order_row(marketplace_id, order, before, now, digests[order.reference])
        changed_items = [
            item
            for ref, item in _item_rows(order, accepted_at, items_before, now).items()
            if ref not in items_before or _differs(item, items_before[ref], (*ITEM_FIELDS, "accepted_at"))
        ]
        if before is None:
            result.created += 1
        elif changed_items or _differs(row, before, _ORDER_AND_DOCUMENTS):
            result.updated += 1
        else:
            result.unchanged += 1
            if row["fingerprint"] != before.fingerprint:
                order_rows.append(row)  # the same order, now known by another digest: the next read skips it
            continue
        order_rows.append(row)
        item_rows.extend(changed_items)
        for event in _events_for(marketplace_id, order, before, items_before, now):
            event["order_reference"] = order.reference
            event_rows.append(event)

    unstockable = [error for order in changed for error in _unstockable_errors(order)]
    dialect = conn.dialect
    return PreparedBatch(
        marketplace_id=marketplace_id,
        references=[reference for reference in dict.fromkeys(references) if reference not in failed],
        orders=StagedRows(dialect, orders, order_rows),
        items=StagedRows(dialect, order_items, item_rows, parent=BY_ORDER_REFERENCE),
        events=StagedRows(dialect, order_events, event_rows, parent=BY_ORDER_REFERENCE),
        result=result,
        read=changed,
        errors=errors,
        new_orders=[row["reference"] for row in order_rows] if not existing else None,
        unstockable=unstockable,
    )


def write_prepared(conn: Connection, prepared: PreparedBatch) -> BatchResult:
    """Write a prepared batch in the caller's transaction; the result, with the events written.

    The orders' errors are cleared: the caller records the batch's errors after it, its
    ``unstockable`` ones included."""
    if prepared.new_orders and prepared.orders.postgres and _insert_new(conn, prepared):
        clear_errors(conn, prepared.marketplace_id, prepared.references)
        return prepared.result
    columns = prepared.orders.columns
    written = merge(
        conn,
        prepared.orders,
        conflict=("marketplace_id", "reference"),
        update=[c for c in columns if c not in ("marketplace_id", "reference")],
        returning=("reference", "id"),
    )
    ids = dict(written)
    # An acceptance the new sync wrote after this batch was prepared is kept.
    item_columns = (*ITEM_FIELDS, "accepted_at")
    merge(conn, prepared.items, ("order_id", "reference"), item_columns, parent_ids=ids, never_cleared=("accepted_at",))
    written_events = merge(conn, prepared.events, ("event_key",), returning=("id", "order_id"), parent_ids=ids)
    queue_for_stock(conn, written_events)
    prepared.result.events = len(written_events)
    clear_errors(conn, prepared.marketplace_id, prepared.references)
    return prepared.result


def _insert_new(conn: Connection, prepared: PreparedBatch) -> bool:
    """Load a batch of new orders, their items and events straight into their tables (Postgres),
    instead of through temporary tables and ``ON CONFLICT``.
    False, with nothing written, if one of them is there already (another sync stored it since
    the batch was read): the batch is then merged as usual."""
    ids = _next_ids(conn, "orders", len(prepared.new_orders))
    event_ids = _next_ids(conn, "order_events", prepared.events.count)
    parents = dict(zip(prepared.new_orders, ids, strict=True))
    try:
        with conn.begin_nested():
            prepared.orders.copy_into_table(conn, ids=ids)
            prepared.items.copy_into_table(conn, parent_ids=parents)
            prepared.events.copy_into_table(conn, parent_ids=parents, ids=event_ids)
            queue_for_stock(conn, zip(event_ids, prepared.events.parents(parents), strict=True))
    except conn.dialect.dbapi.IntegrityError:  # COPY goes to the driver's cursor: the error is the driver's
        return False
    prepared.result.events = prepared.events.count
    return True


def _next_ids(conn: Connection, table: str, count: int) -> list[int]:
    """Take ``count`` ids from the sequence of ``table``'s id (Postgres) in one statement, as one
    array rather than a row per id; the sequence is looked up once, not for each id."""
    if not count:
        return []
    return conn.execute(NEXT_IDS, {"table": table, "count": count}).scalar_one()


NEXT_IDS = text(
    "WITH sequence AS MATERIALIZED (SELECT pg_get_serial_sequence(:table, 'id')::regclass AS name)"
    " SELECT array_agg(nextval(sequence.name)) FROM sequence, generate_series(1, :count)"
)


def queue_for_stock(conn: Connection, written: Iterable[tuple[int, int]]) -> None:
    """Queue the events just written, as (event id, order id), for the stock to apply them."""
    insert_rows(conn, pending_order_events, [{"event_id": event, "order_id": order} for event, order in written])


def clear_errors(conn: Connection, marketplace_id: int, references: Sequence[str]) -> None:
    """Clear the errors of orders that were just synced well."""
    if references:
        conn.execute(
            delete(sync_errors).where(
                sync_errors.c.marketplace_id == marketplace_id, one_of(conn, sync_errors.c.reference, references)
            )
        )


def clear_unnamed_errors(conn: Connection, marketplace_id: int, sync_type: str, before: Any) -> None:
    """Errors without a reference (a skipped page, a record without an id) stand until a later run
    of the same type reads its whole listing again: that run records again what is still wrong."""
    conn.execute(
        delete(sync_errors).where(
            sync_errors.c.marketplace_id == marketplace_id,
            sync_errors.c.sync_type == sync_type,
            sync_errors.c.reference.is_(None),
            sync_errors.c.created_at < before,
        )
    )


def raw_text(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    return json.dumps(raw, default=str, sort_keys=True)


def record_errors(conn: Connection, marketplace_id: int, sync_type: str, errors: Sequence[RecordError]) -> None:
    """Keep what could not be synced, with its raw payload; one row per reference (the latest)."""
    if not errors:
        return
    now = utcnow()
    clear_errors(conn, marketplace_id, [e.reference for e in errors if e.reference is not None])
    conn.execute(
        sync_errors.insert(),
        [
            {
                "marketplace_id": marketplace_id,
                "sync_type": sync_type,
                "reference": e.reference,
                "error": e.error,
                "payload": raw_text(e.raw),
                "created_at": now,
            }
            for e in errors
        ],
    )
