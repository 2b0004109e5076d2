"""How the simulated Refurbed account lives: its seeded history and what each step of time brings.

The simulator never accepts an item: that is the merchant's job, through the API. Once an order
is accepted it plays the merchant's warehouse: the parcel gets a tracking URL, then ships.
"""

from __future__ import annotations

from typing import Any

from ..base.lifecycle import HOUR, MINUTE, Lifecycle
from .model import ACCEPTED, CANCELLED, NEW, REJECTED, RETURNED, SHIPPED, Order

COUNTRIES = ("DE",) * 6 + ("AT", "AT", "FR", "IT", "NL")


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


class RefurbedLifecycle(Lifecycle):
    COUNTS = ("arrived", "tracking_urls", "shipped", "cancelled", "returned")
    RATES = {"cancel_new": 0.2, "cancel_accepted": 0.1, "return": 0.1}
    MOVES = (
        ("cancel_new", "NEW", NEW, CANCELLED, "cancelled"),
        ("cancel_accepted", "ACCEPTED", ACCEPTED, CANCELLED, "cancelled"),
        ("return", "SHIPPED", SHIPPED, RETURNED, "returned"),
    )

    def pick_lines(self, in_stock_only: bool) -> list[tuple[str, int]]:
        """(sku, price cents) of one or two units, mostly one."""
        rng = self.rng
        offers = self.world.listings(in_stock_only)
        if not offers:
            return []
        count = 1 if rng.random() < 0.85 or len(offers) == 1 else 2
        return [(offer.sku, int(offer.price * 100)) for offer in rng.sample(offers, count)]

    # -- planning -----------------------------------------------------------------------------------

    def order_changed(self, order: Order) -> None:
        if order.state == "ACCEPTED" and not order.ship_scheduled:
            self.schedule_shipping(order)

    def schedule_shipping(self, order: Order) -> None:
        """Once accepted: the parcel gets its tracking URL some time later, then leaves."""
        rng = self.rng
        order.ship_scheduled = True
        tracking = rng.randint(30, 360) * MINUTE
        self.schedule(tracking, "track", order.id)
        self.schedule(tracking + rng.randint(30, 480) * MINUTE, "ship", order.id)

    # -- seeded history -----------------------------------------------------------------------------

    def seed_order(self, now: int, age: int) -> None:
        world, rng = self.world, self.rng
        specs = self.pick_lines(in_stock_only=False)
        first, other = _scenario(rng, age / HOUR)
        states = [first] + [other] * (len(specs) - 1)
        items = [(sku, price, state) for (sku, price), state in zip(specs, states, strict=True)]
        order = world.new_order(items, now - age, country=rng.choice(COUNTRIES), customer=self.customer())
        if order.state == "ACCEPTED":
            order.ship_scheduled = True
            if age > 6 * HOUR or rng.random() < 0.3:
                for item in order.items:
                    item.tracking_url = world.tracking_url(order.id)
                self.schedule(rng.randint(30, 600) * MINUTE, "ship", order.id)
            else:
                self.schedule_shipping(order)

    # -- one step of time ---------------------------------------------------------------------------

    def handle(self, kind: str, order: Order, done: dict[str, int]) -> None:
        if order.state != "ACCEPTED":
            return  # cancelled, or shipped by the merchant through the API meanwhile
        if kind == "track" and any(item.state == ACCEPTED and not item.tracking_url for item in order.items):
            for item in order.items:
                if item.state == ACCEPTED:
                    item.tracking_url = item.tracking_url or self.world.tracking_url(order.id)
            done["tracking_urls"] += 1
        elif kind == "ship" and self.world.ship(order.id, new_items_too=False):
            done["shipped"] += 1

    def live(self, seconds: int, done: dict[str, int]) -> None:
        world, rng = self.world, self.rng
        now = world.now_ts()
        for specs in self.arrivals(seconds):
            items = [(sku, price, NEW) for sku, price in specs]
            world.new_order(items, now, country=rng.choice(COUNTRIES), customer=self.customer())
            for sku, _ in specs:
                world.take_stock(sku)
            done["arrived"] += 1
        for order, item, to_state, counter in self.moves(seconds):
            item.state = to_state
            item.refunded_cents = item.price_cents
            world.touch(order)
            done[counter] += 1
