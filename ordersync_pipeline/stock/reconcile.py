"""Reconciliation: what each marketplace really lists, compared with what ordersync computes.

Every listing is read back through its adapter and sorted into in line, drifted (both numbers),
unknown here (a listing ordersync does not hold) or missing there (a listing ordersync holds
that the marketplace did not list). Drifted listings are corrected by pushing the computed
quantity through the ordinary push (``stock.push``), within the marketplace's update budget.

The race (docs/design.md, "Reconciliation"): a marketplace lowers a listing itself when an order
comes in, before ordersync has seen that order. Raising that listing back re-opens the oversell.
So a listing is never raised on a reading older than the orders placed there:

1. the marketplace's new orders are synced and applied first (``catch_up``), then every listing
   is read; a listing above its computed quantity is lowered (never a risk);
2. a listing below its computed quantity is pending: the new orders are synced and applied again,
   after that reading, and the listing is read again; it is raised only if it still shows the
   same quantity (no order came in between the two readings) and is still below the quantity
   computed from the orders synced after the first reading. One that moved stays pending, for
   the next reconciliation.

The listings read are not kept: each page is compared and let go, so memory grows with the
listings ordersync holds (a few numbers each), not with the pages read.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pyrate_limiter import Duration, Limiter, Rate
from sqlalchemy import Engine, delete, select, update

from ordersync_pipeline.db.statements import upsert
from ordersync_pipeline.db.tables import listings_pending_raise, marketplace_stock, marketplaces, utcnow
from ordersync_pipeline.marketplaces.backmarket.pacing import account_key, shared_file_setting
from ordersync_pipeline.marketplaces.base import ListingKind, ListingPage, MarketplaceAdapter, MarketplaceError
from ordersync_pipeline.marketplaces.pacing_store import bucket_for, shared_store
from ordersync_pipeline.stock.push import Listing, listings_to_push, push_stock

log = logging.getLogger(__name__)

#: how many findings of each kind a report keeps by name (the counts are always whole)
MAX_NAMED = 1000


class Verdict(enum.StrEnum):
    IN_LINE = "in line"
    DRIFTED = "drifted"
    UNKNOWN = "unknown here"
    MISSING = "missing there"


class Action(enum.StrEnum):
    NONE = ""
    LOWERED = "lowered"
    RAISED = "raised"
    #: below the computed quantity, not confirmed by a second reading after a sync
    PENDING = "pending"
    #: over the marketplace's update budget for the hour: the next reconciliation takes it
    DEFERRED = "deferred"
    FAILED = "push failed"
    #: pushed and answered, but reading it again shows another quantity
    NOT_APPLIED = "pushed, not applied"
    WOULD_LOWER = "would lower"
    WOULD_RAISE = "would raise"


CORRECTED = frozenset({Action.LOWERED, Action.RAISED})


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    #: the listing as ordersync names it (or, unknown here, the marketplace's id)
    listing_ref: str
    sku: str
    name: str
    listed: int | None
    computed: int | None
    action: Action = Action.NONE

    @property
    def drift(self) -> int:
        return abs((self.listed or 0) - (self.computed or 0)) if self.verdict == Verdict.DRIFTED else 0

    def label(self) -> str:
        """How a person recognises it: its name, SKU and reference."""
        named = f"{self.name} " if self.name and self.name != self.sku else ""
        return f"{named}({self.sku}, {self.listing_ref})" if self.sku else f"{named}({self.listing_ref})"


@dataclass
class ReconcileReport:
    marketplace: str
    dry_run: bool = False
    read: int = 0
    in_line: int = 0
    drifted: int = 0
    corrected: int = 0
    pending: int = 0
    deferred: int = 0
    failed: int = 0
    unknown: int = 0
    missing: int = 0
    #: units between what the drifted listings showed and what was computed, summed
    drift_units: int = 0
    #: False when the reading could not vouch for being whole: nothing was called missing
    complete: bool = True
    #: every listing not in line (up to ``MAX_NAMED`` of each verdict), with what was done
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: why this marketplace could not be reconciled (unreachable, refused the token...), if so
    stopped: str | None = None

    @property
    def still_drifted(self) -> list[Finding]:
        """Drifted listings that are not at their computed quantity after this reconciliation."""
        return [f for f in self.findings if f.verdict == Verdict.DRIFTED and f.action not in CORRECTED]

    def named(self, verdict: Verdict) -> list[Finding]:
        return [f for f in self.findings if f.verdict == verdict]


class CorrectionBudget:
    """The marketplace's budget of stock updates for reconciliation, per rolling hour, shared by
    the processes of a host like the request budget (the same store).

    A marketplace setting ``reconcile_corrections_per_hour`` sets it; by default half of what the
    marketplace documents (Back Market: 2,000 SKU lines an hour), so that the ordinary pushes keep
    the other half; a marketplace that publishes no limit has none here either."""

    def __init__(self, limiter: Limiter | None, key: str) -> None:
        self._limiter = limiter
        self._key = key

    def take(self) -> bool:
        # A short timeout rather than blocking=False, which the file store's lock does not take
        # (and a zero timeout, which it sometimes misses); a budget spent answers within it.
        return self._limiter is None or bool(self._limiter.try_acquire(self._key, blocking=True, timeout=0.5))

    def allow(self, wanted: int) -> int:
        """How many of ``wanted`` corrections may go now: permits taken until the first refused."""
        taken = 0
        while taken < wanted and self.take():
            taken += 1
        return taken

    @classmethod
    def for_marketplace(cls, row: Any, adapter: MarketplaceAdapter) -> CorrectionBudget:
        settings = dict(row.settings or {})
        documented = adapter.stock_lines_per_hour
        per_hour = settings.get("reconcile_corrections_per_hour", documented // 2 if documented else None)
        key = f"corrections_{account_key(row.base_url, row.code)}"
        if not per_hour:
            return cls(None, key)
        store = shared_store(settings, shared_file_setting(settings))
        return cls(Limiter(bucket_for(store, key, Rate(int(per_hour), Duration.HOUR))), key)


CatchUp = Callable[[Any], None]


def reconcile(
    engine: Engine,
    adapter_for: Callable[[Any], MarketplaceAdapter],
    marketplace_ids: Iterable[int] | None = None,
    *,
    dry_run: bool = False,
    catch_up: CatchUp | None = None,
) -> list[ReconcileReport]:
    """Reconcile every active marketplace (or those given). ``catch_up(row)`` syncs a marketplace's
    new orders and applies the events; without one, no listing is raised (all stay pending). A dry
    run neither syncs nor pushes: it reports what it would do."""
    query = select(marketplaces).where(marketplaces.c.active.is_(True)).order_by(marketplaces.c.id)
    if marketplace_ids is not None:
        query = query.where(marketplaces.c.id.in_(list(marketplace_ids)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [reconcile_marketplace(engine, row, adapter_for, dry_run=dry_run, catch_up=catch_up) for row in rows]


def reconcile_marketplace(
    engine: Engine,
    row: Any,
    adapter_for: Callable[[Any], MarketplaceAdapter],
    *,
    dry_run: bool = False,
    catch_up: CatchUp | None = None,
) -> ReconcileReport:
    report = ReconcileReport(marketplace=row.code, dry_run=dry_run)
    try:
        _reconcile(engine, row, adapter_for, dry_run, catch_up, report)
    except MarketplaceError as exc:
        # This marketplace stops here, the others go on; what it did so far stands.
        report.stopped = str(exc)
        report.complete = False
        log.warning("%s: reconciliation stopped: %s", row.code, exc)
    return report


def _reconcile(
    engine: Engine,
    row: Any,
    adapter_for: Callable[[Any], MarketplaceAdapter],
    dry_run: bool,
    catch_up: CatchUp | None,
    report: ReconcileReport,
) -> None:
    syncing = catch_up is not None and not dry_run
    if syncing:
        catch_up(row)
    adapter = adapter_for(row)
    try:
        held = _Held(listings_to_push(engine, [row.id]))
        seen = _read(adapter.iter_listings(), held, report)
        report.read = len(seen.observed) + len(seen.unknown)
        report.complete = seen.complete
        if not held.listings and not seen.observed and not seen.unknown:
            return
        to_lower, below = _compare(held, seen, report)
        confirmed, pending = _confirm(engine, row, adapter, below, catch_up if syncing else None, report)
        # Lowered first: when the budget runs short, the listings that may oversell go out.
        corrections = to_lower + confirmed
        if dry_run:
            actions = {x.id: Action.WOULD_LOWER for x, _ in to_lower}
        else:
            actions = _correct(engine, row, adapter, adapter_for, corrections, report)
        _findings(report, held, seen, corrections, pending, actions)
    finally:
        adapter.close()


# -- reading ---------------------------------------------------------------------------------


@dataclass
class _Held:
    """The listings ordersync holds for a marketplace, by how each is named."""

    listings: list[Listing]

    def __post_init__(self) -> None:
        self.by_id = {x.listing_ref.strip(): x for x in self.listings if x.listing_kind == ListingKind.ID}
        self.by_sku = {x.listing_ref.strip(): x for x in self.listings if x.listing_kind == ListingKind.SKU}

    def match(self, ids: Sequence[str], sku: str) -> Listing | None:
        for listing_id in ids:
            held = self.by_id.get(listing_id)
            if held is not None:
                return held
        return self.by_sku.get(sku) if sku else None


@dataclass
class _Seen:
    #: marketplace_stock id -> (quantity listed, the listing's name)
    observed: dict[int, tuple[int, str]] = field(default_factory=dict)
    #: the marketplace's id -> (sku, quantity, name) of listings ordersync does not hold
    unknown: dict[str, tuple[str, int, str]] = field(default_factory=dict)
    complete: bool = True
    errors: list[str] = field(default_factory=list)


def _read(pages: Iterator[ListingPage], held: _Held, report: ReconcileReport) -> _Seen:
    """Every page compared with what ordersync holds, and let go; a listing read twice (a
    re-reading after a shift) keeps its latest quantity. Errors of the pages go to ``report``."""
    seen = _Seen()
    for page in pages:
        seen.complete &= not page.incomplete
        seen.errors.extend(page.errors)
        for listing in page.listings:
            mine = held.match(listing.ids, listing.sku)
            if mine is None:
                seen.unknown[listing.ids[0]] = (listing.sku, listing.quantity, listing.name)
            else:
                seen.observed[mine.id] = (listing.quantity, listing.name)
    report.errors.extend(seen.errors)
    return seen


def _compare(held: _Held, seen: _Seen, report: ReconcileReport) -> tuple[list, list]:
    """(listings to lower, listings below their computed quantity), each as (listing, quantity listed)."""
    to_lower, below = [], []
    for listing in held.listings:
        if listing.id not in seen.observed:
            continue
        quantity, _ = seen.observed[listing.id]
        if quantity == listing.quantity:
            report.in_line += 1
            continue
        report.drifted += 1
        report.drift_units += abs(quantity - listing.quantity)
        (to_lower if quantity > listing.quantity else below).append((listing, quantity))
    return to_lower, below


def _confirm(
    engine: Engine,
    row: Any,
    adapter: MarketplaceAdapter,
    below: list[tuple[Listing, int]],
    catch_up: CatchUp | None,
    report: ReconcileReport,
) -> tuple[list, list]:
    """(listings to correct, listings left pending) of the listings read below their computed
    quantity: those first read at this quantity at least ``reconcile_confirm_minutes`` ago (a
    marketplace setting, default 0) are read again after the new orders were synced once more,
    and raised only if they did not move and are still below. The rest stay pending, their first
    reading kept (``listings_pending_raise``) for a later reconciliation."""
    now = utcnow()
    wait = timedelta(minutes=float(dict(row.settings or {}).get("reconcile_confirm_minutes") or 0))
    stored = _pending_readings(engine, [x.id for x, _ in below])
    since = {x.id: stored[x.id][1] if stored.get(x.id, (None,))[0] == q else now for x, q in below}
    ripe = [(x, q) for x, q in below if now - since[x.id] >= wait]
    pending = [(x, q) for x, q in below if now - since[x.id] < wait]
    to_correct: list[tuple[Listing, int]] = []
    if ripe and catch_up is not None:
        catch_up(row)
        current = {x.id: x for x in listings_to_push(engine, [row.id])}
        again = _Held([current.get(x.id, x) for x, _ in ripe])
        refs = [(x.listing_kind, x.listing_ref) for x, _ in ripe]
        seen = _read(adapter.read_listings(refs), again, report)
        for listing, first in ripe:
            now_computed = current.get(listing.id)
            second = seen.observed.get(listing.id, (None, ""))[0]
            if now_computed is None or second is None:
                pending.append((listing, first))
            elif second == first and first < now_computed.quantity:
                to_correct.append((now_computed, first))
            elif second >= now_computed.quantity:
                # The orders synced since explain it (the listing is where they put it), or it is
                # now above: not the drift it looked like at first.
                report.drifted -= 1
                report.drift_units -= abs(first - listing.quantity)
                if second == now_computed.quantity:
                    report.in_line += 1
                else:
                    report.drifted += 1
                    report.drift_units += second - now_computed.quantity
                    to_correct.append((now_computed, second))
            else:
                pending.append((listing, second))  # it moved: another order may have come in
    else:
        pending.extend(ripe)
    report.pending = len(pending)
    if not report.dry_run:
        _keep_pending(engine, row, pending, stored, now)
    return to_correct, pending


def _pending_readings(engine: Engine, ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """marketplace_stock id -> (quantity, when first read at it) of the listings still pending."""
    if not ids:
        return {}
    table = listings_pending_raise
    query = select(table.c.marketplace_stock_id, table.c.listed_quantity, table.c.first_seen_at)
    readings: dict[int, tuple[int, datetime]] = {}
    with engine.connect() as conn:
        for part in _chunks(ids):
            for r in conn.execute(query.where(table.c.marketplace_stock_id.in_(part))):
                readings[r.marketplace_stock_id] = (r.listed_quantity, r.first_seen_at)
    return readings


def _chunks(ids: list[int], size: int = 1000) -> Iterator[list[int]]:
    """``ids`` a thousand at a time: a statement's bound parameters are limited (SQLite)."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _keep_pending(
    engine: Engine,
    row: Any,
    pending: list[tuple[Listing, int]],
    stored: dict[int, tuple[int, datetime]],
    now: datetime,
) -> None:
    """The marketplace's pending listings as this reconciliation leaves them: a listing still at
    the quantity first read keeps that reading's time; one that moved starts again; the others
    (in line, corrected, above) are no longer pending."""
    table = listings_pending_raise
    rows = [
        {
            "marketplace_stock_id": x.id,
            "listed_quantity": q,
            "first_seen_at": stored[x.id][1] if stored.get(x.id, (None,))[0] == q else now,
            "last_seen_at": now,
        }
        for x, q in pending
    ]
    mine = select(marketplace_stock.c.id).where(marketplace_stock.c.marketplace_id == row.id)
    with engine.begin() as conn:
        # The marketplace's readings replaced by this one's: the kept first readings are in ``rows``.
        conn.execute(delete(table).where(table.c.marketplace_stock_id.in_(mine)))
        upsert(
            conn,
            table,
            rows,
            conflict=("marketplace_stock_id",),
            update=("listed_quantity", "first_seen_at", "last_seen_at"),
        )


# -- correcting ------------------------------------------------------------------------------


def _correct(
    engine: Engine,
    row: Any,
    adapter: MarketplaceAdapter,
    adapter_for: Callable[[Any], MarketplaceAdapter],
    corrections: list[tuple[Listing, int]],
    report: ReconcileReport,
) -> dict[int, Action]:
    """Push the computed quantity of each listing to correct, lowered ones first, as many as the
    budget allows; then read the pushed ones again. Returns what was done to each."""
    budget = CorrectionBudget.for_marketplace(row, adapter)
    chosen = [x for x, _ in corrections[: budget.allow(len(corrections))]]
    actions: dict[int, Action] = {x.id: Action.DEFERRED for x, _ in corrections}
    report.deferred = len(corrections) - len(chosen)
    if not chosen:
        return actions
    ids = [x.id for x in chosen]
    # The ordinary push sends a listing whose computed quantity differs from the one last
    # confirmed: forgetting the confirmed one makes it send these, and nothing else changes.
    with engine.begin() as conn:
        for part in _chunks(ids):
            conn.execute(update(marketplace_stock).where(marketplace_stock.c.id.in_(part)).values(pushed_quantity=None))
    push = push_stock(engine, adapter_for, [row.id])
    report.errors.extend(push.errors)
    pushed: dict[int, int | None] = {}
    with engine.connect() as conn:
        for part in _chunks(ids):
            query = select(marketplace_stock.c.id, marketplace_stock.c.pushed_quantity)
            pushed.update(conn.execute(query.where(marketplace_stock.c.id.in_(part))).tuples().all())
    confirmed = [x for x in chosen if pushed.get(x.id) is not None]
    for x in chosen:
        actions[x.id] = Action.FAILED
    report.failed = len(chosen) - len(confirmed)
    # Read them again: a push can be answered and not applied.
    shown = _read(adapter.read_listings([(x.listing_kind, x.listing_ref) for x in confirmed]), _Held(confirmed), report)
    listed = {x.id: quantity for x, quantity in corrections}
    for x in confirmed:
        quantity = shown.observed.get(x.id, (None, ""))[0]
        if quantity == pushed[x.id]:
            actions[x.id] = Action.LOWERED if listed[x.id] > quantity else Action.RAISED
            report.corrected += 1
        else:
            actions[x.id] = Action.NOT_APPLIED
    return actions


def _findings(
    report: ReconcileReport,
    held: _Held,
    seen: _Seen,
    corrections: list[tuple[Listing, int]],
    pending: list[tuple[Listing, int]],
    actions: dict[int, Action],
) -> None:
    listed = {x.id: q for x, q in corrections} | {x.id: q for x, q in pending}
    computed = {x.id: x.quantity for x, _ in corrections}
    for listing in held.listings:
        if listing.id in listed and len(report.findings) < 3 * MAX_NAMED:
            action = actions.get(listing.id, Action.PENDING)
            name = seen.observed.get(listing.id, (0, ""))[1]
            report.findings.append(
                Finding(
                    Verdict.DRIFTED,
                    listing.listing_ref,
                    listing.sku,
                    name,
                    listed[listing.id],
                    computed.get(listing.id, listing.quantity),
                    action,
                )
            )
    missing = [x for x in held.listings if x.id not in seen.observed] if report.complete else []
    report.missing = len(missing)
    for listing in missing[:MAX_NAMED]:
        report.findings.append(Finding(Verdict.MISSING, listing.listing_ref, listing.sku, "", None, listing.quantity))
    report.unknown = len(seen.unknown)
    for listing_id, (sku, quantity, name) in list(seen.unknown.items())[:MAX_NAMED]:
        report.findings.append(Finding(Verdict.UNKNOWN, listing_id, sku, name, quantity, None))
