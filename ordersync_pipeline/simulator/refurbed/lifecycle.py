"""How the simulated account lives: its seeded history and what each step of time brings.

Everything draws from the world's seeded ``random.Random`` and is timed on the simulated minutes
elapsed (not on the wall clock), so the same seed and the same calls give the same states.
The simulator never accepts an item: that is the merchant's job, through the API. Once an order
is accepted it plays the merchant's warehouse: the parcel gets a tracking URL, then ships.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING, Any

from .model import ACCEPTED, CANCELLED, NEW, REJECTED, RETURNED, SHIPPED, Order

if TYPE_CHECKING:
    from .world import World

MINUTE = 60
HOUR = 3600
DAY = 86400
COUNTRIES = ("DE",) * 6 + ("AT", "AT", "FR", "IT", "NL")

# expected events per simulated hour
RATES = {"cancel_new": 0.2, "cancel_accepted": 0.1, "return": 0.1}


def _count(rng: Any, per_hour: float, seconds: int) -> int:
    expected = per_hour * seconds / HOUR
    whole = int(expected)
    return whole + (1 if rng.random() < expected - whole else 0)


def _pick_items(world: World, in_stock_only: bool) -> list[tuple[str, int]]:
    """(sku, price cents) of one or two units, mostly one."""
    rng = world.rng
    offers = [o for o in world._offers if o.stock > 0] if in_stock_only else world._offers
    if not offers:
        return []
    count = 1 if rng.random() < 0.85 or len(offers) == 1 else 2
    return [(offer.sku, int(offer.price * 100)) for offer in rng.sample(offers, count)]


# -- scheduling -------------------------------------------------------------------------------------


def schedule_shipping(world: World, order: Order) -> None:
    """Once accepted: the parcel gets its tracking URL some time later, then leaves."""
    rng = world.rng
    order.ship_scheduled = True
    tracking = rng.randint(30, 360) * MINUTE
    world._schedule(tracking, "track", order.id)
    world._schedule(tracking + rng.randint(30, 480) * MINUTE, "ship", order.id)


# -- seeded history -------------------------------------------------------------------------------


def _scenario(rng: Any, hours: float) -> list[str]:
    """The item states an order of that age is likely to be in (first item, then the others)."""
    r = rng.random()
    if hours < 24:
        table = ((0.30, NEW), (0.80, ACCEPTED), (0.95, SHIPPED), (1.0, CANCELLED))
    elif hours < 72:
        table = ((0.03, NEW), (0.33, ACCEPTED), (0.93, SHIPPED), (0.96, REJECTED), (1.0, CANCELLED))
    else:
        table = ((0.90, SHIPPED), (0.94, CANCELLED), (0.96, REJECTED), (1.0, RETURNED))
    first = next(state for limit, state in table if r < limit)
    # an order of two units whose first one ended unshipped may still have shipped the other
    other = SHIPPED if first in (CANCELLED, REJECTED) and hours >= 72 and rng.random() < 0.5 else first
    return [first, other]


def seed_history(world: World, count: int) -> None:
    """``count`` orders released over the past ``history_days``, in states fitting their age."""
    if count <= 0:
        return
    rng = world.rng
    now = world._now_ts()
    span = world.history_days * DAY
    # about a third of the orders are from the last three days, where the open states are
    ages = sorted((int(rng.random() * (3 * DAY if rng.random() < 0.35 else span)) for _ in range(count)), reverse=True)
    for age in ages:
        specs = _pick_items(world, in_stock_only=False)
        first, other = _scenario(rng, age / HOUR)
        states = [first] + [other] * (len(specs) - 1)
        items = [(sku, price, state) for (sku, price), state in zip(specs, states, strict=True)]
        order = world._new_order(items, now - age, country=rng.choice(COUNTRIES), customer=rng.randrange(1, 10**7))
        for item in order.items:
            if item.state in (SHIPPED, RETURNED):
                world._mark_shipped(order, item, None)
            if item.state in (CANCELLED, REJECTED, RETURNED):
                item.refunded_cents = item.price_cents
        if order.state == "ACCEPTED":
            order.ship_scheduled = True
            if age > 6 * HOUR or rng.random() < 0.3:
                for item in order.items:
                    item.tracking_url = world.tracking_url(order.id)
                world._schedule(rng.randint(30, 600) * MINUTE, "ship", order.id)
            else:
                schedule_shipping(world, order)


# -- one step of time ---------------------------------------------------------------------------


def _handle(world: World, kind: str, order: Order, done: dict[str, int]) -> None:
    if order.state != "ACCEPTED":
        return  # cancelled, or shipped by the merchant through the API meanwhile
    if kind == "track" and any(item.state == ACCEPTED and not item.tracking_url for item in order.items):
        for item in order.items:
            if item.state == ACCEPTED:
                item.tracking_url = item.tracking_url or world.tracking_url(order.id)
        done["tracking_urls"] += 1
    elif kind == "ship" and world._ship(order, None):
        done["shipped"] += 1


def _random_item(world: World, order_state: str, item_state: str) -> tuple[Order, Any] | None:
    ids = world._by_state[order_state]
    if not ids:
        return None
    order = world._orders[world.rng.choice(ids)]
    item = next((item for item in order.items if item.state == item_state), None)
    return (order, item) if item is not None else None


def step(world: World, seconds: int) -> dict[str, int]:
    """Apply ``seconds`` of simulated life (the clock was already moved on)."""
    rng = world.rng
    done = dict.fromkeys(("arrived", "tracking_urls", "shipped", "cancelled", "returned"), 0)
    events = world._events
    while events and events[0][0] <= world._elapsed:
        _, _, kind, order_id = heapq.heappop(events)
        _handle(world, kind, world._orders[order_id], done)
    now = world._now_ts()
    for _ in range(_count(rng, world.arrivals_per_hour, seconds)):
        specs = _pick_items(world, in_stock_only=True)
        if not specs:
            break
        items = [(sku, price, NEW) for sku, price in specs]
        order = world._new_order(items, now, country=rng.choice(COUNTRIES), customer=rng.randrange(1, 10**7))
        for sku, _ in specs:
            world._take_stock(sku)
        done["arrived"] += 1
    moves = (
        ("cancel_new", "NEW", NEW, CANCELLED, "cancelled"),
        ("cancel_accepted", "ACCEPTED", ACCEPTED, CANCELLED, "cancelled"),
        ("return", "SHIPPED", SHIPPED, RETURNED, "returned"),
    )
    for rate, order_state, from_state, to_state, counter in moves:
        for _ in range(_count(rng, RATES[rate], seconds)):
            picked = _random_item(world, order_state, from_state)
            if picked is not None:
                order, item = picked
                item.state = to_state
                item.refunded_cents = item.price_cents
                world._touch(order)
                done[counter] += 1
    return done
