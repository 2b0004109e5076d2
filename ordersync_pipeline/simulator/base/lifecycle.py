"""How a simulated account lives: its seeded history and what each step of time brings.

Everything draws from the world's seeded ``random.Random`` and is timed on the world's clock,
so the same seed and the same calls give the same states. A marketplace's lifecycle says what
its orders go through (``seed_history``, ``handle``, ``live``) and when to plan what
(``order_created``, ``order_changed``); it changes the world through the world's methods.
"""

from __future__ import annotations

from typing import Any

from .world import SimulatedWorld

MINUTE = 60
HOUR = 3600
DAY = 86400


class Lifecycle:
    #: what ``step`` counts, in the order ``advance`` reports it
    COUNTS: tuple[str, ...] = ()

    def __init__(self, world: SimulatedWorld) -> None:
        self.world = world

    @property
    def rng(self) -> Any:
        return self.world.rng

    # -- what a marketplace's lifecycle says --------------------------------------------------------

    def seed_history(self, count: int) -> None:
        """``count`` orders created over the past ``history_days``, in states fitting their age."""

    def order_created(self, order: Any) -> None:
        """Plan what comes to an order created through the world's API."""
        self.order_changed(order)

    def order_changed(self, order: Any) -> None:
        """Plan what comes to an order whose state was just recomputed."""

    def handle(self, kind: str, order: Any, done: dict[str, int]) -> None:
        """Carry out a planned event of ``kind``, counting it in ``done``."""

    def live(self, seconds: int, done: dict[str, int]) -> None:
        """What ``seconds`` bring unplanned: arrivals, cancellations, returns."""

    # -- shared ---------------------------------------------------------------------------------

    def step(self, seconds: int) -> dict[str, int]:
        """Apply ``seconds`` of simulated life (the clock was already moved on)."""
        done = dict.fromkeys(self.COUNTS, 0)
        for kind, order_id in self.world.clock.due():
            self.handle(kind, self.world.order(order_id), done)
        self.live(seconds, done)
        return done

    def schedule(self, delay: int, kind: str, order_id: int) -> None:
        self.world.clock.schedule(delay, kind, order_id)

    def count(self, per_hour: float, seconds: int) -> int:
        """How many of an event expected ``per_hour`` times happen in ``seconds``."""
        expected = per_hour * seconds / HOUR
        whole = int(expected)
        return whole + (1 if self.rng.random() < expected - whole else 0)

    def ages(self, count: int) -> list[int]:
        """Ages in seconds of ``count`` seeded orders, oldest first."""
        rng = self.rng
        span = self.world.history_days * DAY
        # about a third of the orders are from the last three days, where the open states are
        return sorted(
            (int(rng.random() * (3 * DAY if rng.random() < 0.35 else span)) for _ in range(count)), reverse=True
        )

    def random_order(self, state: Any) -> Any | None:
        """An order in ``state`` drawn at random, or None if there is none."""
        ids = self.world.ids_in_state(state)
        return self.world.order(self.rng.choice(ids)) if ids else None

    def customer(self) -> int:
        return self.rng.randrange(1, 10**7)
