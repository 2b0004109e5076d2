"""How the simulated Back Market account lives: its seeded history and what each step of time brings.

The simulator never accepts a line: that is the seller's job, through the API. Once every line
is accepted it plays Back Market's side: the delivery note and the label come, then the parcel
leaves.
"""

from __future__ import annotations

from typing import Any

from ..base.lifecycle import DAY, HOUR, MINUTE, Lifecycle
from .data import ORDER_COUNTRIES
from .model import (
    LINE_ACCEPTED,
    LINE_CANCELLED,
    LINE_NEW,
    LINE_NOT_PAID,
    LINE_PAID,
    LINE_PENDING,
    LINE_REFUNDED_AFTER,
    LINE_REFUNDED_BEFORE,
    LINE_SHIPPED,
    ORDER_NEW,
    ORDER_PAID,
    ORDER_PENDING,
    ORDER_SHIPPED,
    ORDER_TO_SHIP,
    Order,
)

LINE_STATE_OF = {
    "new": LINE_NEW,
    "pending": LINE_PENDING,
    "not_paid": LINE_NOT_PAID,
    "paid": LINE_PAID,
    "accepted": LINE_ACCEPTED,
}


def _scenario(rng: Any, hours: float) -> str:
    r = rng.random()
    if hours < 24:
        for limit, name in ((0.03, "new"), (0.08, "pending"), (0.10, "not_paid"), (0.55, "paid"), (0.93, "accepted")):
            if r < limit:
                return name
        return "shipped"
    if hours < 72:
        for limit, name in ((0.08, "paid"), (0.40, "accepted"), (0.42, "not_paid")):
            if r < limit:
                return name
        return "shipped"
    for limit, name in ((0.01, "not_paid"), (0.05, "cancelled"), (0.07, "refunded_before")):
        if r < limit:
            return name
    return "shipped"


class BackMarketLifecycle(Lifecycle):
    COUNTS = (
        "arrived",
        "paid",
        "not_paid",
        "delivery_notes",
        "labels",
        "shipped",
        "cancelled",
        "refunded",
        "care_opened",
        "care_closed",
    )
    RATES = {"cancel_paid": 0.25, "refund_before": 0.15, "refund_after": 0.1, "care_open": 0.3, "care_close": 0.2}
    MOVES = (
        ("cancel_paid", ORDER_PAID, LINE_PAID, LINE_CANCELLED, "cancelled"),
        ("refund_before", ORDER_TO_SHIP, LINE_ACCEPTED, LINE_REFUNDED_BEFORE, "refunded"),
        ("refund_after", ORDER_SHIPPED, LINE_SHIPPED, LINE_REFUNDED_AFTER, "refunded"),
    )

    def pick_lines(self, in_stock_only: bool) -> list[tuple[str, int, int]]:
        rng = self.rng
        listings = self.world.listings(in_stock_only)
        if not listings:
            return []
        if self.world.lines_per_order is not None:
            count = min(self.world.lines_per_order, len(listings))
        else:
            count = 1 if rng.random() < 0.85 or len(listings) == 1 else 2
        picks = rng.sample(listings, count)
        specs = []
        for listing in picks:
            quantity = 2 if rng.random() < 0.08 and (not in_stock_only or listing.quantity >= 2) else 1
            specs.append((listing.sku, quantity, int(listing.price * 100)))
        return specs

    # -- planning -----------------------------------------------------------------------------------

    def order_created(self, order: Order) -> None:
        self.plan_payment(order)
        self.order_changed(order)

    def plan_payment(self, order: Order) -> None:
        """A new order waiting for payment gets paid (or not) some time later."""
        if order.state in (ORDER_NEW, ORDER_PENDING):
            self.schedule(self.rng.randint(10, 240) * MINUTE, "pay", order.order_id)

    def order_changed(self, order: Order) -> None:
        if order.state == ORDER_TO_SHIP and not order.docs_scheduled:
            self.schedule_documents(order)

    def schedule_documents(self, order: Order) -> None:
        """Once every line is accepted: delivery note and label come later, then the parcel leaves."""
        rng = self.rng
        order.docs_scheduled = True
        note, label = rng.randint(15, 180) * MINUTE, rng.randint(15, 300) * MINUTE
        if not order.delivery_note:
            self.schedule(note, "note", order.order_id)
        if not order.label:
            self.schedule(label, "label", order.order_id)
        self.schedule(max(note, label) + rng.randint(60, 480) * MINUTE, "ship", order.order_id)

    # -- seeded history -----------------------------------------------------------------------------

    def seed_order(self, now: int, age: int) -> None:
        world, rng = self.world, self.rng
        created = now - age
        specs = self.pick_lines(in_stock_only=False)
        kind = _scenario(rng, age / HOUR)
        first_state = LINE_STATE_OF.get(kind, LINE_SHIPPED)
        other_state = first_state
        if kind in ("cancelled", "refunded_before"):
            first_state = LINE_CANCELLED if kind == "cancelled" else LINE_REFUNDED_BEFORE
            other_state = LINE_SHIPPED
        paid = min(now, created + rng.randint(60, 1200)) if kind not in ("new", "pending", "not_paid") else None
        modified = paid or min(now, created + rng.randint(0, 3600))
        shipped = None
        if first_state == LINE_SHIPPED or (other_state == LINE_SHIPPED and len(specs) > 1):
            shipped = min(now, created + rng.randint(DAY, 3 * DAY))
            modified = shipped
        states = [first_state] + [other_state] * (len(specs) - 1)
        lines = [(sku, qty, price, state) for (sku, qty, price), state in zip(specs, states, strict=True)]
        order = world.new_order(lines, created, country=rng.choice(ORDER_COUNTRIES), customer=self.customer())
        order.paid = paid
        if order.state == ORDER_TO_SHIP:
            order.docs_scheduled = True
            if now - created > 6 * HOUR or rng.random() < 0.3:
                world.issue_documents(order)
                self.schedule(rng.randint(30, 600) * MINUTE, "ship", order.order_id)
            else:
                self.schedule_documents(order)
        elif shipped is not None:
            world.mark_shipped(order, shipped)
            world.issue_documents(order)
            shipped_lines = [line for line in order.lines if line.state == LINE_SHIPPED]
            if shipped_lines and rng.random() < 0.03:
                shipped_lines[0].state = LINE_REFUNDED_AFTER
                shipped_lines[0].return_reason = 21
                modified = min(now, shipped + rng.randint(DAY, 10 * DAY))
            if shipped_lines and age > 3 * DAY and rng.random() < 0.03:
                opened = min(now, shipped + rng.randint(DAY, 5 * DAY))
                care_id = world.open_care(shipped_lines[0].id, at=opened)
                if rng.random() < 0.5:
                    world.close_care(care_id, at=min(now, opened + rng.randint(DAY, 4 * DAY)))
        order.modified = modified
        self.plan_payment(order)

    # -- one step of time ---------------------------------------------------------------------------

    def handle(self, kind: str, order: Order, done: dict[str, int]) -> None:
        world = self.world
        if kind == "pay" and order.state in (ORDER_NEW, ORDER_PENDING):
            paid = self.rng.random() < 0.85
            for line in order.lines:
                if line.state in (LINE_NEW, LINE_PENDING):
                    line.state = LINE_PAID if paid else LINE_NOT_PAID
            world.touch(order)
            done["paid" if paid else "not_paid"] += 1
        elif kind in ("note", "label") and any(line.state in (LINE_ACCEPTED, LINE_SHIPPED) for line in order.lines):
            if kind == "note" and not order.delivery_note:
                world.set_documents(order.order_id, True, None)
                done["delivery_notes"] += 1
            elif kind == "label" and not order.label:
                world.set_documents(order.order_id, None, True)
                done["labels"] += 1
        elif kind == "ship" and order.state == ORDER_TO_SHIP:
            if order.delivery_note and order.label:
                world.ship(order.order_id, paid_lines_too=False)
                done["shipped"] += 1
            else:
                self.schedule(HOUR, "ship", order.order_id)

    def live(self, seconds: int, done: dict[str, int]) -> None:
        world, rng = self.world, self.rng
        now = world.now_ts()
        for specs in self.arrivals(seconds):
            r = rng.random()
            state = LINE_PAID if r < 0.85 else LINE_PENDING if r < 0.95 else LINE_NEW
            lines = [(sku, qty, price, state) for sku, qty, price in specs]
            order = world.new_order(lines, now, country=rng.choice(ORDER_COUNTRIES), customer=self.customer())
            if state == LINE_PAID:
                order.paid = now
            for sku, qty, _ in specs:
                world.take_stock(sku, qty)
            self.plan_payment(order)
            done["arrived"] += 1
        for order, line, to_state, counter in self.moves(seconds):
            line.state = to_state
            line.return_reason = 1 if to_state != LINE_REFUNDED_AFTER else 21
            world.touch(order)
            done[counter] += 1
        for _ in range(self.count(self.RATES["care_open"], seconds)):
            picked = self.random_line(ORDER_SHIPPED, LINE_SHIPPED)
            if picked is not None and not world.has_care(picked[1].id):
                world.open_care(picked[1].id, at=now)
                done["care_opened"] += 1
        for _ in range(self.count(self.RATES["care_close"], seconds)):
            care_ids = world.care_ids()
            if care_ids:
                care_id = rng.choice(care_ids)
                if world.care_is_open(care_id):
                    world.close_care(care_id, at=now)
                    done["care_closed"] += 1
