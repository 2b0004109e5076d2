"""How the simulated account lives: its seeded history and what each step of time brings.

Everything draws from the world's seeded ``random.Random`` and is timed on the simulated minutes
elapsed (not on the wall clock), so the same seed and the same calls give the same states.
The simulator never accepts a line: that is the seller's job, through the API.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from .data import ORDER_COUNTRIES, RESOLUTIONS
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
    CareFolder,
    Line,
    Order,
)

if TYPE_CHECKING:
    from .world import World

MINUTE = 60
HOUR = 3600
DAY = 86400

# expected events per simulated hour
RATES = {"cancel_paid": 0.25, "refund_before": 0.15, "refund_after": 0.1, "care_open": 0.3, "care_close": 0.2}


def _count(rng: Any, per_hour: float, seconds: int) -> int:
    expected = per_hour * seconds / HOUR
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _pick_lines(world: World, in_stock_only: bool) -> list[tuple[str, int, int]]:
    rng = world.rng
    listings = [item for item in world._listings if item.quantity > 0] if in_stock_only else world._listings
    if not listings:
        return []
    if world.lines_per_order is not None:
        count = min(world.lines_per_order, len(listings))
    else:
        count = 1 if rng.random() < 0.85 or len(listings) == 1 else 2
    picks = rng.sample(listings, count)
    specs = []
    for listing in picks:
        quantity = 2 if rng.random() < 0.08 and (not in_stock_only or listing.quantity >= 2) else 1
        specs.append((listing.sku, quantity, int(listing.price * 100)))
    return specs


# -- scheduling -------------------------------------------------------------------------------------


def on_created(world: World, order: Order) -> None:
    """A new order waiting for payment gets paid (or not) some time later."""
    if order.state in (ORDER_NEW, ORDER_PENDING):
        world._schedule(world.rng.randint(10, 240) * MINUTE, "pay", order.order_id)


def schedule_documents(world: World, order: Order) -> None:
    """Once every line is accepted: delivery note and label come later, then the parcel leaves."""
    rng = world.rng
    order.docs_scheduled = True
    note, label = rng.randint(15, 180) * MINUTE, rng.randint(15, 300) * MINUTE
    if not order.delivery_note:
        world._schedule(note, "note", order.order_id)
    if not order.label:
        world._schedule(label, "label", order.order_id)
    world._schedule(max(note, label) + rng.randint(60, 480) * MINUTE, "ship", order.order_id)


def open_care(world: World, line: Line, resolution: str | None, ts: int | None = None) -> CareFolder:
    existing = world._care_by_line.get(line.id)
    if existing is not None:
        return world._care[existing]
    ts = world._now_ts() if ts is None else ts
    care_id = world._next_care_id
    world._next_care_id += 1
    rng = world.rng
    care = CareFolder(
        id=care_id,
        orderline_id=line.id,
        order_id=line.order_id,
        state=0,
        created=ts,
        modified=ts,
        last_message=ts,
        closed=None,
        claim_id=care_id + 30000,
        resolution=resolution or rng.choice(RESOLUTIONS),
        issue="",
        messages=[(care_id * 10, ts, "Customer", "The device does not work as expected.")],
    )
    world._care[care_id] = care
    world._care_ids.append(care_id)
    world._care_by_line[line.id] = care_id
    return care


# -- seeded history -------------------------------------------------------------------------------


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


LINE_STATE_OF = {
    "new": LINE_NEW,
    "pending": LINE_PENDING,
    "not_paid": LINE_NOT_PAID,
    "paid": LINE_PAID,
    "accepted": LINE_ACCEPTED,
}


def seed_history(world: World, count: int) -> None:
    """``count`` orders created over the past ``history_days``, in states fitting their age."""
    if count <= 0:
        return
    rng = world.rng
    now = world._now_ts()
    span = world.history_days * DAY
    # about a third of the orders are from the last three days, where the open states are
    ages = sorted((int(rng.random() * (3 * DAY if rng.random() < 0.35 else span)) for _ in range(count)), reverse=True)
    for age in ages:
        created = now - age
        specs = _pick_lines(world, in_stock_only=False)
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
        order = world._new_order(
            lines, created, country=rng.choice(ORDER_COUNTRIES), customer=rng.randrange(1, 10**7), bulk=True
        )
        order.paid = paid
        if order.state == ORDER_TO_SHIP:
            order.docs_scheduled = True
            if now - created > 6 * HOUR or rng.random() < 0.3:
                order.delivery_note = f"/static/delivery_notes/{order.order_id}.pdf"
                order.label = world._label_url(order.order_id)
                world._labelled.append(order.order_id)
                world._schedule(rng.randint(30, 600) * MINUTE, "ship", order.order_id)
            else:
                schedule_documents(world, order)
        elif shipped is not None:
            order.shipped = shipped
            world._mark_shipped(order, None, shipped)
            order.delivery_note = f"/static/delivery_notes/{order.order_id}.pdf"
            order.label = world._label_url(order.order_id)
            world._labelled.append(order.order_id)
            shipped_lines = [line for line in order.lines if line.state == LINE_SHIPPED]
            if shipped_lines and rng.random() < 0.03:
                shipped_lines[0].state = LINE_REFUNDED_AFTER
                shipped_lines[0].return_reason = 21
                modified = min(now, shipped + rng.randint(DAY, 10 * DAY))
            if shipped_lines and age > 3 * DAY and rng.random() < 0.03:
                care = open_care(world, shipped_lines[0], None, min(now, shipped + rng.randint(DAY, 5 * DAY)))
                if rng.random() < 0.5:
                    care.state, care.closed = 9, min(now, care.created + rng.randint(DAY, 4 * DAY))
                    care.modified = care.closed
        order.modified = modified
        on_created(world, order)
    world._by_mod = sorted((order.modified, order.order_id) for order in world._orders.values())
    world._labelled.sort()
    world._care_ids.sort()
    world._version += 1


# -- one step of time ---------------------------------------------------------------------------


def _handle(world: World, kind: str, order: Order, done: dict[str, int]) -> None:
    rng = world.rng
    if kind == "pay" and order.state in (ORDER_NEW, ORDER_PENDING):
        paid = rng.random() < 0.85
        for line in order.lines:
            if line.state in (LINE_NEW, LINE_PENDING):
                line.state = LINE_PAID if paid else LINE_NOT_PAID
        world._touch(order)
        done["paid" if paid else "not_paid"] += 1
    elif kind in ("note", "label") and any(line.state in (LINE_ACCEPTED, LINE_SHIPPED) for line in order.lines):
        if kind == "note" and not order.delivery_note:
            world._set_documents(order, True, None)
            done["delivery_notes"] += 1
        elif kind == "label" and not order.label:
            world._set_documents(order, None, True)
            done["labels"] += 1
    elif kind == "ship" and order.state == ORDER_TO_SHIP:
        if order.delivery_note and order.label:
            world._ship(order, None)
            done["shipped"] += 1
        else:
            world._schedule(HOUR, "ship", order.order_id)


def _random_line(world: World, order_state: int, line_state: int) -> tuple[Order, Line] | None:
    ids = world._by_state[order_state]
    if not ids:
        return None
    order = world._orders[world.rng.choice(ids)]
    line = next((line for line in order.lines if line.state == line_state), None)
    return (order, line) if line is not None else None


def step(world: World, seconds: int) -> dict[str, int]:
    """Apply ``seconds`` of simulated life (the clock was already moved on)."""
    rng = world.rng
    done = dict.fromkeys(
        (
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
        ),
        0,
    )
    events = world._events
    while events and events[0][0] <= world._elapsed:
        _, _, kind, order_id = heapq.heappop(events)
        _handle(world, kind, world._orders[order_id], done)
    now = world._now_ts()
    for _ in range(_count(rng, world.arrivals_per_hour, seconds)):
        specs = _pick_lines(world, in_stock_only=True)
        if not specs:
            break
        r = rng.random()
        state = LINE_PAID if r < 0.85 else LINE_PENDING if r < 0.95 else LINE_NEW
        lines = [(sku, qty, price, state) for sku, qty, price in specs]
        order = world._new_order(lines, now, country=rng.choice(ORDER_COUNTRIES), customer=rng.randrange(1, 10**7))
        if state == LINE_PAID:
            order.paid = now
        for sku, qty, _ in specs:
            world._take_stock(sku, qty)
        on_created(world, order)
        done["arrived"] += 1
    moves = (
        ("cancel_paid", ORDER_PAID, LINE_PAID, LINE_CANCELLED, "cancelled"),
        ("refund_before", ORDER_TO_SHIP, LINE_ACCEPTED, LINE_REFUNDED_BEFORE, "refunded"),
        ("refund_after", ORDER_SHIPPED, LINE_SHIPPED, LINE_REFUNDED_AFTER, "refunded"),
    )
    for rate, order_state, from_state, to_state, counter in moves:
        for _ in range(_count(rng, RATES[rate], seconds)):
            picked = _random_line(world, order_state, from_state)
            if picked is not None:
                order, line = picked
                line.state = to_state
                line.return_reason = 1 if to_state != LINE_REFUNDED_AFTER else 21
                world._touch(order)
                done[counter] += 1
    for _ in range(_count(rng, RATES["care_open"], seconds)):
        picked = _random_line(world, ORDER_SHIPPED, LINE_SHIPPED)
        if picked is not None and picked[1].id not in world._care_by_line:
            open_care(world, picked[1], None, now)
            done["care_opened"] += 1
    for _ in range(_count(rng, RATES["care_close"], seconds)):
        if world._care_ids:
            care = world._care[rng.choice(world._care_ids)]
            if care.state == 0:
                care.state, care.closed, care.modified = 9, now, now
                done["care_closed"] += 1
    return done
