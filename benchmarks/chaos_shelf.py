"""The shelf in the chaos benchmark: what is really on it, a recount taken while syncs run, and the
check that on hand ends where the shelf is.

The simulators' orders are the truth: a unit is off the shelf once an item of its SKU is shipped
or returned at its marketplace. The recounted SKUs get units to spare, so that they are never
oversold (an oversold unit is a shortfall for a person, not a number the books can be right
about); for them, after the clean run, on hand must be exactly the first count less every unit
that left since it, however the recount fell among the syncs, kills and faults.

    python -m benchmarks.chaos_shelf DATABASE_URL STOCK_FILE COUNTED_AT

imports a recount in a process of its own, so that the benchmark can kill it with ``kill -9``.
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, select

from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.db.tables import inventory
from ordersync_pipeline.marketplaces.backmarket.adapter import parse_order as parse_backmarket_order
from ordersync_pipeline.marketplaces.base import LEFT_STATUSES
from ordersync_pipeline.marketplaces.refurbed.adapter import parse_order as parse_refurbed_order
from ordersync_pipeline.stock import import_stock

PARSERS = {"backmarket": parse_backmarket_order, "refurbed": parse_refurbed_order}


def spare_units(hours: float) -> int:
    """Units to add to a recounted SKU's shelf so that a run of ``hours`` of simulated time cannot
    sell them out: each simulator takes about six orders an hour of one or two lines over a dozen
    SKUs, so a SKU sells about one unit an hour on both together; four times that, and some."""
    return 50 + 4 * math.ceil(hours)


def listed_raw_orders(sim: Any) -> Iterator[dict]:
    """Every order the simulator lists, as its API sends it, read as a client would."""
    if sim.kind == "backmarket":
        headers = {"Authorization": f"Basic {sim.token}", "User-Agent": "BM-Chaos-Check;ops@example.com"}
        page = 1
        while True:
            body = requests.get(
                f"{sim.url}/ws/orders", params={"page-size": 50, "page": page}, headers=headers, timeout=30
            ).json()
            yield from body["results"]
            if not body.get("next"):
                return
            page += 1
    after = None
    while True:
        pagination: dict[str, Any] = {"limit": 100} | ({"starting_after": after} if after else {})
        body = requests.post(
            f"{sim.url}/refb.merchant.v1.OrderService/ListOrders",
            json={"pagination": pagination, "sort": {"by": "ID", "order": "ASC"}},
            headers={"Authorization": f"Plain {sim.token}"},
            timeout=30,
        ).json()
        found = body.get("orders") or []
        yield from found
        if not body.get("has_more") or not found:
            return
        after = str(found[-1]["id"])


def units_left(sims: Mapping[str, Any]) -> Counter:
    """Units of each SKU off the shelf at the marketplaces now: items shipped or returned."""
    left: Counter = Counter()
    for sim in sims.values():
        for raw in listed_raw_orders(sim):
            for item in PARSERS[sim.kind](raw).items:
                if item.status in LEFT_STATUSES and item.sku:
                    left[item.sku] += item.quantity
    return left


@dataclass
class Shelf:
    """The recounted SKUs' first count, and the units that had left when it was taken."""

    first_count: dict[str, int]
    left_at_first_count: Counter

    @classmethod
    def counted(cls, first_count: dict[str, int], sims: Mapping[str, Any]) -> Shelf:
        return cls(first_count, units_left(sims))

    def now(self, sims: Mapping[str, Any]) -> dict[str, int]:
        """What a person counting the shelf now would find."""
        left = units_left(sims)
        return {sku: n - (left[sku] - self.left_at_first_count[sku]) for sku, n in self.first_count.items()}

    def violations(self, engine: Engine, sims: Mapping[str, Any]) -> list[str]:
        """On hand is the shelf: the first count less every unit that left since."""
        shelf = self.now(sims)
        with engine.connect() as conn:
            on_hand = dict(conn.execute(select(inventory.c.sku, inventory.c.on_hand)).all())
        return [
            f"SKU {sku}: {on_hand.get(sku)} on hand, {units} on the shelf"
            for sku, units in sorted(shelf.items())
            if on_hand.get(sku) != units
        ]


def write_stock_file(path: Path, counts: Mapping[str, int]) -> None:
    path.write_text("sku,on_hand\n" + "".join(f"{sku},{n}\n" for sku, n in sorted(counts.items())))


def main(argv: list[str] | None = None) -> int:
    url, path, counted_at = argv if argv is not None else sys.argv[1:]
    engine = make_engine(url)
    try:
        report = import_stock(engine, path, datetime.fromisoformat(counted_at))
    finally:
        engine.dispose()
    print(json.dumps({"skus": report.skus, "left_since_count": report.left_since_count}), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
