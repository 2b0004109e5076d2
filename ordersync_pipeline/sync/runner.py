"""The four sync types: what each asks the marketplace and what it writes (docs/design.md, "Sync types")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, exists, or_, select, update

from ordersync_pipeline.db.statements import upsert
from ordersync_pipeline.db.tables import care_folders, order_items, orders, utc_naive, utcnow
from ordersync_pipeline.db.writes import BulkWriter
from ordersync_pipeline.marketplaces.base import (
    DOCUMENT_FIELDS,
    ListedOrder,
    MarketplaceAdapter,
    Order,
    Page,
    RecordError,
    Status,
    SyncType,
)
from ordersync_pipeline.sync.background import in_background
from ordersync_pipeline.sync.cursors import load_cursor, save_cursor
from ordersync_pipeline.sync.exclusive import exclusive_sync
from ordersync_pipeline.sync.options import SyncOptions
from ordersync_pipeline.sync.order_writer import (
    BatchResult,
    PreparedBatch,
    clear_unnamed_errors,
    prepare_orders,
    record_errors,
    write_prepared,
)
from ordersync_pipeline.sync.queries import incomplete_orders, open_order_references
from ordersync_pipeline.sync.report import Progress, SyncReport

ProgressCallback = Callable[[Progress], None]

__all__ = ["MarketplaceRef", "SyncOptions", "run_sync"]


@dataclass(frozen=True)
class MarketplaceRef:
    id: int
    code: str


def run_sync(
    engine: Engine,
    marketplace: MarketplaceRef,
    adapter: MarketplaceAdapter,
    sync_type: SyncType | str,
    options: SyncOptions | None = None,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Sync one marketplace for one type. Per-record errors are counted; a fatal error raises."""
    sync_type = SyncType(sync_type)
    options = options or SyncOptions()
    report = SyncReport(marketplace=marketplace.code, sync_type=str(sync_type))
    if not adapter.supports(sync_type):
        report.supported = False
        return report
    sync = _SYNCS[sync_type]
    page_size = adapter.page_size(options.page_size)
    if page_size != options.page_size:
        report.notes.append(
            f"the marketplace takes at most {adapter.max_page_size} orders a page:"
            f" {page_size} asked, not {options.page_size}"
        )
        options = replace(options, page_size=page_size)
    with exclusive_sync(engine, marketplace.id, sync_type):
        started = utcnow()
        ctx = _Context(engine, marketplace, adapter, options, report, progress or (lambda _p: None))
        sync(ctx)
        if sync_type in _LISTINGS and not ctx.pages_lost:
            with engine.begin() as conn:
                clear_unnamed_errors(conn, marketplace.id, report.sync_type, started)
    return report


@dataclass
class _Context:
    engine: Engine
    marketplace: MarketplaceRef
    adapter: MarketplaceAdapter
    options: SyncOptions
    report: SyncReport
    progress: ProgressCallback
    #: pages the listing skipped (unreadable): the window is not done, so its cursor stays put
    pages_lost: int = 0

    def pages_seen(self, page: Page) -> None:
        self.pages_lost += page.incomplete
        self.page_seen(page.records)

    def page_seen(self, records: int) -> None:
        self.report.pages += 1
        self.report.fetched += records
        self.progress(Progress(self.marketplace.code, self.report.sync_type, self.report.pages, self.report.fetched))


@dataclass
class _Batch:
    orders: list[Order | ListedOrder]
    errors: list[RecordError]
    #: records on each page of the batch, for the progress report
    pages: list[int]
    lost: int = 0


def _gather(pages: Iterable[Page], batch_orders: int) -> Iterator[_Batch]:
    """Gather pages into batches of about ``batch_orders`` orders."""
    batch = _Batch([], [], [])
    for page in pages:
        batch.orders.extend(page.orders)
        batch.orders.extend(page.listed)
        batch.errors.extend(page.errors)
        batch.pages.append(page.records)
        batch.lost += page.incomplete
        if len(batch.orders) + len(batch.errors) >= batch_orders:
            yield batch
            batch = _Batch([], [], [])
    if batch.pages:
        yield batch


def _batches(ctx: _Context, pages: Iterable[Page]) -> Iterator[tuple[list[Order | ListedOrder], list[RecordError]]]:
    """Hand out batches of orders, fetched (and digested or parsed) on a producer thread while the
    caller writes the last one."""
    for batch in in_background(_gather(pages, ctx.options.batch_orders)):
        for records in batch.pages:
            ctx.page_seen(records)
        ctx.pages_lost += batch.lost
        if batch.orders or batch.errors:
            yield batch.orders, batch.errors


def _write_listing(
    ctx: _Context, pages: Iterable[Page], prepared: Callable[[list[Order], BatchResult], None] | None = None
) -> None:
    """Write every batch of a listing: each one is prepared here while the one before is being
    written (``BulkWriter``). ``prepared`` is told of the orders each batch read and what its
    diff found."""
    with BulkWriter(ctx.engine) as writer:
        for batch, errors in _batches(ctx, pages):
            references = {order.reference for order in batch if order.reference is not None}
            writer.before_reading(references)
            with ctx.engine.connect() as conn:
                ready = prepare_orders(conn, ctx.marketplace.id, batch)
            errors = errors + ready.errors
            ctx.report.created += ready.result.created
            ctx.report.updated += ready.result.updated
            ctx.report.unchanged += ready.result.unchanged
            ctx.report.add_errors([_describe(e) for e in errors + ready.unstockable])
            writer.submit(references, lambda conn, ready=ready, errors=errors: _commit(ctx, conn, ready, errors))
            if prepared is not None:
                prepared(ready.read, ready.result)


def _commit(ctx: _Context, conn, ready: PreparedBatch, errors: list[RecordError]) -> None:
    """Write a prepared batch (on the writer thread, which alone counts the events)."""
    write_prepared(conn, ready)
    # After the write, which cleared the orders' earlier errors: an open item without a SKU is flagged again.
    record_errors(conn, ctx.marketplace.id, ctx.report.sync_type, errors + ready.unstockable)
    ctx.report.events += ready.result.events


def _write_accepted(ctx: _Context, batch: list[Order], errors: list[RecordError], accepted_now) -> None:
    """Write orders again after their acceptance: they were counted when fetched, so only their
    events and errors count now."""
    with ctx.engine.begin() as conn:
        ready = prepare_orders(conn, ctx.marketplace.id, batch, accepted_now)
        result = write_prepared(conn, ready)
        record_errors(conn, ctx.marketplace.id, ctx.report.sync_type, errors + ready.unstockable)
    ctx.report.events += result.events
    ctx.report.add_errors([_describe(e) for e in errors])


def _describe(error: RecordError) -> str:
    return f"order {error.reference or '?'}: {error.error}"


def _sync_new(ctx: _Context) -> None:
    """Paid orders: store them, then accept their paid items at the marketplace, once.

    Accepting takes an order out of the marketplace's "paid" listing and shifts its pages, so the
    listing is read to the end before anything is accepted. The listing may hand an order out
    more than once (read again after a shift): its latest version says what is left to accept.
    """
    by_order: dict[str, tuple[Order, list]] = {}

    def note_paid_items(batch: list[Order], written: BatchResult) -> None:
        for order in batch:
            already = written.accepted.get(order.reference, set())
            to_accept = [i for i in order.items if i.status == Status.PAID and i.reference not in already]
            if to_accept:
                by_order[order.reference] = (order, to_accept)
            else:
                by_order.pop(order.reference, None)

    _write_listing(ctx, ctx.adapter.iter_new_orders(ctx.options.page_size, unparsed=True), note_paid_items)
    waiting = list(by_order.values())
    for start in range(0, len(waiting), ctx.options.batch_orders):
        _accept(ctx, waiting[start : start + ctx.options.batch_orders])


@dataclass
class Accepted:
    """What the marketplace accepted of the paid items asked, as orders to write again."""

    orders: list[Order] = field(default_factory=list)
    #: accepted item references by order reference
    items: dict[str, set[str]] = field(default_factory=dict)
    #: one per item the marketplace refused
    errors: list[RecordError] = field(default_factory=list)
    count: int = 0


def accept_items(adapter: MarketplaceAdapter, waiting: list[tuple[Order, list]]) -> Accepted:
    """Ask the marketplace to accept the paid items of each ``(order, items)`` in ``waiting``."""
    accepted = Accepted()
    for (order, _), results in zip(waiting, adapter.accept_orders(waiting), strict=True):
        ok = {r.item_reference for r in results if r.ok}
        accepted.errors.extend(
            RecordError(order.reference, f"item {r.item_reference} not accepted: {r.error}", raw=None)
            for r in results
            if not r.ok
        )
        if ok:
            accepted.orders.append(adapter.accepted(order, ok))
            accepted.items[order.reference] = ok
            accepted.count += len(ok)
    return accepted


def _accept(ctx: _Context, waiting: list[tuple[Order, list]]) -> None:
    accepted = accept_items(ctx.adapter, waiting)
    ctx.report.accepted += accepted.count
    _write_accepted(ctx, accepted.orders, accepted.errors, accepted.items)


def _sync_modified(ctx: _Context) -> None:
    """Sync the orders changed since the last window (first run: ``first_window`` back)."""
    window_end = datetime.now(UTC) - ctx.options.lag
    with ctx.engine.connect() as conn:
        cursor = load_cursor(conn, ctx.marketplace.id, SyncType.MODIFIED)
    since = cursor - ctx.options.overlap if cursor else window_end - ctx.options.first_window
    open_references: list[str] = []
    if ctx.adapter.modified_needs_open_orders:
        with ctx.engine.connect() as conn:
            open_references = open_order_references(conn, ctx.marketplace.id)
    listing = ctx.adapter.iter_modified_orders(since, ctx.options.page_size, open_references, unparsed=True)
    _write_listing(ctx, listing)
    if ctx.pages_lost:
        # A skipped page may have held changed orders: the next run reads this window again.
        ctx.report.cursor = cursor.isoformat() if cursor else None
        return
    with ctx.engine.begin() as conn:
        save_cursor(conn, ctx.marketplace.id, SyncType.MODIFIED, window_end)
    ctx.report.cursor = window_end.isoformat()


def _sync_care(ctx: _Context) -> None:
    """Care folders: keep each one, and set ``care_id`` on the item it names."""
    with ctx.engine.connect() as conn:
        cursor = load_cursor(conn, ctx.marketplace.id, SyncType.CARE)
    since = cursor - ctx.options.overlap if cursor else None
    latest = cursor
    mp = ctx.marketplace.id
    for page in ctx.adapter.iter_care_records(since):
        ctx.pages_seen(page)
        now = utcnow()
        rows = [
            {
                "marketplace_id": mp,
                "care_id": c.care_id,
                "item_reference": c.item_reference,
                "order_reference": c.order_reference,
                "state": c.state,
                "modified_at": utc_naive(c.modified_at),
                "payload": c.raw,
                "synced_at": now,
            }
            for c in page.care
        ]
        with ctx.engine.begin() as conn:
            upsert(
                conn,
                care_folders,
                rows,
                conflict=("marketplace_id", "care_id"),
                update=("item_reference", "order_reference", "state", "modified_at", "payload", "synced_at"),
            )
            record_errors(conn, mp, ctx.report.sync_type, page.errors)
        ctx.report.add_errors([_describe(e) for e in page.errors])
        for c in page.care:
            if c.modified_at and (latest is None or c.modified_at > latest):
                latest = c.modified_at
    # One statement links every folder to its item, including folders kept from earlier syncs
    # whose order had not been synced yet.
    folder = (
        select(care_folders.c.care_id)
        .where(care_folders.c.marketplace_id == mp, care_folders.c.item_reference == order_items.c.reference)
        .order_by(care_folders.c.modified_at.desc(), care_folders.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    has_folder = exists().where(
        care_folders.c.marketplace_id == mp, care_folders.c.item_reference == order_items.c.reference
    )
    with ctx.engine.begin() as conn:
        result = conn.execute(
            update(order_items)
            .where(
                order_items.c.order_id.in_(select(orders.c.id).where(orders.c.marketplace_id == mp)),
                has_folder,
                or_(order_items.c.care_id.is_(None), order_items.c.care_id != folder),
            )
            .values(care_id=folder)
        )
        ctx.report.updated = result.rowcount
        if latest is not None and not ctx.pages_lost:  # a skipped page: read this window again
            save_cursor(conn, mp, SyncType.CARE, latest)
    ctx.report.unchanged = max(0, ctx.report.fetched - ctx.report.failed - ctx.report.updated)
    saved = cursor if ctx.pages_lost else latest
    ctx.report.cursor = saved.isoformat() if saved else None


def _sync_incomplete(ctx: _Context) -> None:
    """Recent orders still missing a document (a delivery note, a label...): fetch them one by one."""
    mp = ctx.marketplace.id
    with ctx.engine.connect() as conn:
        rows = incomplete_orders(conn, mp, ctx.adapter.document_fields, ctx.options.days_back)
    changes: list[dict] = []
    errors: list[RecordError] = []
    for row in rows:
        ctx.report.fetched += 1
        try:
            docs = ctx.adapter.get_documents(row.reference)
        except ValueError as exc:
            errors.append(RecordError(row.reference, str(exc), raw=None))
            continue
        # Only fill in: a missing value never clears a known one.
        filled = {name: getattr(docs, name) or getattr(row, name) for name in DOCUMENT_FIELDS}
        if any(filled[name] != getattr(row, name) for name in DOCUMENT_FIELDS):
            changes.append({"row_id": row.id} | {f"new_{name}": filled[name] for name in DOCUMENT_FIELDS})
        ctx.progress(
            Progress(ctx.marketplace.code, ctx.report.sync_type, ctx.report.fetched, ctx.report.fetched, len(rows))
        )
    with ctx.engine.begin() as conn:
        if changes:
            conn.execute(
                update(orders)
                .where(orders.c.id == bindparam("row_id"))
                .values({name: bindparam(f"new_{name}") for name in DOCUMENT_FIELDS} | {"synced_at": utcnow()}),
                changes,
            )
        record_errors(conn, mp, ctx.report.sync_type, errors)
    ctx.report.updated = len(changes)
    ctx.report.unchanged = len(rows) - len(changes) - len(errors)
    ctx.report.add_errors([_describe(e) for e in errors])


#: the syncs that read a whole listing (the incomplete sync asks order by order)
_LISTINGS = frozenset({SyncType.NEW, SyncType.MODIFIED, SyncType.CARE})

_SYNCS = {
    SyncType.NEW: _sync_new,
    SyncType.MODIFIED: _sync_modified,
    SyncType.CARE: _sync_care,
    SyncType.INCOMPLETE: _sync_incomplete,
}
