"""Lock states and the rules that bring an item's lock to the state its status calls for.

This module is pure: it works on rows already loaded (and, on Postgres, already row-locked) by
``apply.py`` and says what to write. Keeping the rules here, away from SQL, lets them be read
and reasoned about in one place.

The rules (docs/design.md, "Stock"):

* an open item (pending_payment, paid, accepted) holds a ``locked`` lock when enough units are
  free (free = on_hand - every ``locked`` quantity of the SKU, all marketplaces together), else a
  ``short`` lock: an oversell, recorded, never a negative number;
* a ``shipped`` or ``returned`` item turns its lock ``consumed`` and lowers on_hand by its
  quantity, exactly once: ``consumed`` is terminal. An item first seen shipped is locked and
  consumed in one step;
* ...unless its unit left before the SKU's shelf count was taken (``shipped_at`` before
  ``counted_at``), or the SKU was never counted: the count did not have that unit, so on_hand
  stays. This is what lets a history older than the count be synced after it, and a count be
  imported after the history, with the same result (``importer`` takes the other half: units
  that left after the count time but were applied before the count was imported);
* a ``cancelled`` or ``refunded`` item turns its lock ``released``: its units are free again.

What ``short`` becomes:

* cancelled/refunded: ``released``. It held nothing, so nothing changes on hand.
* shipped/returned: ``consumed``. on_hand goes down by the units that were free for it, at most
  its quantity, so on_hand never goes below the units other open orders hold. The seller shipped
  a unit the books did not have free (a miscount, or a unit meant for another order); the
  missing units are reported as a shortfall for a person to recount, rather than taking a unit
  away from an order that holds one.
* while open, a ``short`` lock is promoted to ``locked`` as soon as enough units are free (a
  cancellation or a stock import freed them), oldest lock first. Without this a freed unit
  would be pushed to the marketplaces while an order already waits for it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from ordersync_pipeline.marketplaces.base import LEFT_STATUSES, OPEN_STATUSES, Status

LOCKED = "locked"
CONSUMED = "consumed"
RELEASED = "released"
SHORT = "short"
LOCK_STATES = (LOCKED, SHORT, CONSUMED, RELEASED)

CONSUMING_STATUSES = LEFT_STATUSES
RELEASING_STATUSES = frozenset({Status.CANCELLED, Status.REFUNDED})


def expected_states(item_status: str) -> frozenset[str]:
    """The lock states that match an item status once its events are applied.

    ``consumed`` is terminal: a unit that left is not put back because a later status says the
    line was cancelled or refunded, so it also matches those statuses.
    """
    if item_status in OPEN_STATUSES:
        return frozenset({LOCKED, SHORT})
    if item_status in CONSUMING_STATUSES:
        return frozenset({CONSUMED})
    if item_status in RELEASING_STATUSES:
        return frozenset({RELEASED, CONSUMED})
    return frozenset()


@dataclass(frozen=True)
class Item:
    """An order item as the stock sees it."""

    id: int
    order_id: int
    marketplace_id: int
    sku: str
    quantity: int
    status: str
    #: when the unit left (shipped or returned items), None if it has not
    shipped_at: datetime | None = None


@dataclass
class Lock:
    """A ``marketplace_stock_locks`` row being planned; ``id`` is None until it is inserted."""

    id: int | None
    order_item_id: int
    marketplace_id: int
    sku: str
    quantity: int
    status: str
    event_id: int | None
    locked_at: datetime
    settled_at: datetime | None
    #: the item's current status, used to decide whether a short lock may be promoted.
    item_status: str
    #: position among the locks created in this batch, after every existing one.
    seq: int = 0
    changed: bool = False

    def order_key(self) -> tuple[int, int]:
        return (0, self.id) if self.id is not None else (1, self.seq)


@dataclass(frozen=True)
class Shortfall:
    """Units that shipped although none was free for them: on_hand could not go down by them."""

    order_item_id: int
    sku: str
    missing: int


@dataclass
class Counts:
    """Locks taken, consumed, released and short by the rules."""

    locked: int = 0
    consumed: int = 0
    released: int = 0
    short: int = 0
    #: short locks that got their units once some were freed (also counted in ``locked``)
    promoted: int = 0
    #: consumed locks whose unit had left before the SKU's count: on hand stayed (also counted
    #: in ``consumed``)
    before_count: int = 0

    def add(self, other: Counts) -> None:
        """Add ``other``'s counts to these."""
        for name in ("locked", "consumed", "released", "short", "promoted", "before_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Planner:
    """Applies the rules to one batch, in memory, over the SKUs whose rows are locked."""

    on_hand: dict[str, int]
    #: by order_item_id: the batch's items' locks and the open locks of its SKUs (every ``short``
    #: one; the ``locked`` ones too unless ``locked_totals`` sums them)
    locks: dict[int, Lock]
    now: datetime
    #: units held by ``locked`` locks per SKU, all of them, when counted by the database
    locked_totals: dict[str, int] | None = None
    #: when each SKU's shelf count was taken (None: never counted)
    counted_at: dict[str, datetime | None] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    shortfalls: list[Shortfall] = field(default_factory=list)
    changed_skus: set[str] = field(default_factory=set)
    _locked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _new: int = 0

    def __post_init__(self) -> None:
        if self.locked_totals is not None:
            self._locked.update(self.locked_totals)
            return
        for lock in self.locks.values():
            if lock.status == LOCKED:
                self._locked[lock.sku] += lock.quantity

    def free(self, sku: str) -> int:
        return self.on_hand.get(sku, 0) - self._locked[sku]

    # -- one item -------------------------------------------------------------------------------

    def settle(self, item: Item, event_id: int) -> None:
        """Bring ``item``'s lock to the state its status calls for."""
        lock = self.locks.get(item.id)
        if lock is not None:
            lock.item_status = item.status
            if lock.status == CONSUMED:
                return  # terminal: on_hand went down once and never again
        if item.status in OPEN_STATUSES:
            self._hold(item, lock, event_id)
        elif item.status in CONSUMING_STATUSES:
            self._consume(item, lock, event_id)
        elif item.status in RELEASING_STATUSES:
            self._release(item, lock, event_id)

    def _hold(self, item: Item, lock: Lock | None, event_id: int) -> None:
        same_line = lock is not None and lock.sku == item.sku and lock.quantity == item.quantity
        if same_line and lock.status == LOCKED:
            return
        self._drop_hold(lock)
        if self.free(item.sku) >= item.quantity:
            self._locked[item.sku] += item.quantity
            self._write(item, lock, LOCKED, event_id)
            self.counts.locked += 1
        elif not (same_line and lock.status == SHORT):
            self._write(item, lock, SHORT, event_id)
            self.counts.short += 1

    def left_before_count(self, item: Item) -> bool:
        """Whether the unit left before the SKU's count was taken, so the count does not have it."""
        counted = self.counted_at.get(item.sku)
        return counted is None or (item.shipped_at is not None and item.shipped_at < counted)

    def _consume(self, item: Item, lock: Lock | None, event_id: int) -> None:
        self._drop_hold(lock)
        if self.left_before_count(item):
            self._write(item, lock, CONSUMED, event_id)
            self.counts.consumed += 1
            self.counts.before_count += 1
            return
        taken = min(item.quantity, max(0, self.free(item.sku)))
        if taken:
            self.on_hand[item.sku] = self.on_hand.get(item.sku, 0) - taken
            self.changed_skus.add(item.sku)
        if taken < item.quantity:
            self.shortfalls.append(Shortfall(item.id, item.sku, item.quantity - taken))
        self._write(item, lock, CONSUMED, event_id)
        self.counts.consumed += 1

    def _release(self, item: Item, lock: Lock | None, event_id: int) -> None:
        if lock is not None and lock.status == RELEASED:
            return
        self._drop_hold(lock)
        self._write(item, lock, RELEASED, event_id)
        self.counts.released += 1

    def _drop_hold(self, lock: Lock | None) -> None:
        if lock is not None and lock.status == LOCKED:
            self._locked[lock.sku] -= lock.quantity

    def _write(self, item: Item, lock: Lock | None, status: str, event_id: int) -> None:
        settled = status in (CONSUMED, RELEASED)
        if lock is None:
            self._new += 1
            self.locks[item.id] = Lock(
                id=None,
                order_item_id=item.id,
                marketplace_id=item.marketplace_id,
                sku=item.sku,
                quantity=item.quantity,
                status=status,
                event_id=event_id,
                locked_at=self.now,
                settled_at=self.now if settled else None,
                item_status=item.status,
                seq=self._new,
                changed=True,
            )
            return
        if status == LOCKED and lock.status != LOCKED:
            lock.locked_at = self.now
        lock.sku, lock.quantity, lock.status, lock.event_id = item.sku, item.quantity, status, event_id
        lock.settled_at = self.now if settled else None
        lock.changed = True

    # -- after the batch's items ----------------------------------------------------------------

    def promote_shorts(self, event_for_sku: dict[str, int]) -> None:
        """Give free units to open ``short`` locks of the batch's SKUs, oldest first."""
        waiting = sorted(
            (lock for lock in self.locks.values() if lock.status == SHORT and lock.item_status in OPEN_STATUSES),
            key=Lock.order_key,
        )
        for lock in waiting:
            if self.free(lock.sku) >= lock.quantity:
                self._locked[lock.sku] += lock.quantity
                lock.status, lock.locked_at, lock.changed = LOCKED, self.now, True
                lock.event_id = event_for_sku.get(lock.sku, lock.event_id)
                self.counts.locked += 1
                self.counts.promoted += 1

    def new_locks(self) -> list[Lock]:
        return [lock for lock in self.locks.values() if lock.id is None]

    def changed_locks(self) -> list[Lock]:
        return [lock for lock in self.locks.values() if lock.id is not None and lock.changed]
