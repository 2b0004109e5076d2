"""How a simulated account lives: its seeded history and what each step of time brings.

Everything draws from the world's seeded ``random.Random`` and is timed on the world's clock,
so the same seed and the same calls give the same states. A marketplace's lifecycle says what
its orders go through (``seed_order``, ``handle``, ``live``) and when to plan what
(``order_created``, ``order_changed``); it changes the world through the world's methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .world import SimulatedWorld

MINUTE = 60
HOUR = 3600
DAY = 86400


class Lifecycle:
    """The lifecycle of one world; the world builds it from its ``lifecycle_class``."""

    #: what ``step`` counts, in the order ``advance`` reports it
    COUNTS: tuple[str, ...] = ()
    #: expected events per simulated hour, by name
    RATES: dict[str, float] = {}
    #: the random moves ``moves`` draws: (rate name, order state, line state, new line state, count)
    MOVES: tuple[tuple[str, Any, Any, Any, str], ...] = ()

    def __init__(self, world: SimulatedWorld) -> None:
        self.world = world

    @property
    def rng(self) -> Any:
        return self.world.rng

    # -- what a marketplace's lifecycle says --------------------------------------------------------

    def seed_order(self, now: int, age: int) -> None:
        """Create one order of the seeded history, ``age`` seconds before ``now``, in a state
        fitting its age."""
        raise NotImplementedError

    def order_created(self, order: Any) -> None:
        """Plan what comes to an order created through the world's API."""
        self.order_changed(order)

    def order_changed(self, order: Any) -> None:
        """Plan what comes to an order whose state was just recomputed."""

    def handle(self, kind: str, order: Any, done: dict[str, int]) -> None:
        """Carry out a planned event of ``kind``, counting it in ``done``."""
        raise NotImplementedError

    def live(self, seconds: int, done: dict[str, int]) -> None:
        """Bring what ``seconds`` bring unplanned (arrivals, cancellations, returns), counting it."""
        raise NotImplementedError

    # -- shared ---------------------------------------------------------------------------------

    def seed_history(self, count: int) -> None:
        """``count`` orders created over the past ``history_days``, oldest first."""
        if count <= 0:
            return
        now = self.world.now_ts()
        for age in self.ages(count):
            self.seed_order(now, age)

    def step(self, seconds: int) -> dict[str, int]:
        """Apply ``seconds`` of simulated life (the clock was already moved on)."""
        done = dict.fromkeys(self.COUNTS, 0)
        for kind, order_id in self.world.clock.due():
            self.handle(kind, self.world.order(order_id), done)
        self.live(seconds, done)
        return done

    def schedule(self, delay: int, kind: str, order_id: int) -> None:
        """Plan ``kind`` for an order ``delay`` simulated seconds from now."""
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

    def random_line(self, order_state: Any, line_state: Any) -> tuple[Any, Any] | None:
        """A random order in ``order_state`` and its first line in ``line_state``, if it has one."""
        order = self.random_order(order_state)
        if order is None:
            return None
        line = next((line for line in self.world.lines_of(order) if line.state == line_state), None)
        return (order, line) if line is not None else None

    def arrivals(self, seconds: int) -> Iterator[Any]:
        """What ``pick_lines`` gives for each order arriving in ``seconds``, while stock lasts."""
        for _ in range(self.count(self.world.arrivals_per_hour, seconds)):
            picked = self.pick_lines(in_stock_only=True)
            if not picked:
                return
            yield picked

    def pick_lines(self, in_stock_only: bool) -> Any:
        """Draw the lines of a new order from the listings (those in stock only, if asked)."""
        raise NotImplementedError

    def moves(self, seconds: int) -> Iterator[tuple[Any, Any, Any, str]]:
        """(order, line, the line's new state, what it counts as) of each move of ``MOVES``
        that ``seconds`` bring; the caller makes it."""
        for rate, order_state, from_state, to_state, counter in self.MOVES:
            for _ in range(self.count(self.RATES[rate], seconds)):
                picked = self.random_line(order_state, from_state)
                if picked is not None:
                    yield (*picked, to_state, counter)

    def customer(self) -> int:
        """Draw a customer number for a new order."""
        return self.rng.randrange(1, 10**7)
