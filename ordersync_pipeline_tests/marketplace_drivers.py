"""One way to drive each marketplace's simulator, so that the same tests run against every kind.

A driver speaks the simulator's own language (Back Market line state codes, Refurbed item state
names) and says what the sync should make of it (the normalised status).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator


@dataclass(frozen=True)
class BackMarketDriver:
    kind: str = "backmarket"
    supports_care: bool = True
    #: the normalised status of an item released before it shipped
    released_status: str = "refunded"
    accepted_item_state: str = "2"

    def simulator(self, token: str, seed: int, **options: Any) -> BackMarketSimulator:
        return BackMarketSimulator(tokens={token}, seed=seed, orders=0, **options)

    def paid_order(self, world, lines, created=None) -> int:
        return world.create_order(lines=lines, state=1, date_creation=created)

    def accepted_order(self, world, lines) -> int:
        return world.create_order(lines=lines, state=2)

    def item_refs(self, world, order: int) -> list[str]:
        return [str(line["id"]) for line in world.get_order(order)["orderlines"]]

    def units(self, lines) -> int:
        """Items an order of these lines has: one per line."""
        return len(lines)

    def ship(self, world, order: int) -> None:
        world.ship(order, tracking_number=f"TRK{order}")

    def release_item(self, world, order: int, sku: str) -> None:
        world.set_line_state(order, sku, 5)  # refunded before shipping

    def cancel_item(self, world, order: int, sku: str) -> None:
        world.set_line_state(order, sku, 4)

    def return_item(self, world, order: int, sku: str) -> None:
        world.set_line_state(order, sku, 6)  # refunded after shipping

    def complete_documents(self, world, order: int) -> dict[str, str]:
        note, label = "https://notes.example/dn.pdf", "https://labels.example/l.pdf"
        world.set_documents(order, delivery_note=note, label=label)
        return {"delivery_note_url": note, "label_url": label}

    def corrupt_price(self, world, order: int) -> None:
        world.corrupt_order(order, {"price": "twelve euros"})

    def repair(self, world, order: int) -> None:
        world.corrupt_order(order, None)

    def open_care(self, world, item_ref: str) -> str:
        return str(world.open_care(int(item_ref)))


@dataclass(frozen=True)
class RefurbedDriver:
    kind: str = "refurbed"
    supports_care: bool = False
    released_status: str = "cancelled"
    accepted_item_state: str = "ACCEPTED"

    def simulator(self, token: str, seed: int, **options: Any) -> RefurbedSimulator:
        return RefurbedSimulator(tokens={token}, seed=seed, orders=0, **options)

    def paid_order(self, world, lines, created=None) -> int:
        return world.create_order(lines=lines, state="NEW", released_at=created)

    def accepted_order(self, world, lines) -> int:
        return world.create_order(lines=lines, state="ACCEPTED")

    def item_refs(self, world, order: int) -> list[str]:
        return [str(item["id"]) for item in world.get_order(order)["items"]]

    def units(self, lines) -> int:
        """Items an order of these lines has: one per unit."""
        return sum(line.get("quantity", 1) for line in lines)

    def ship(self, world, order: int) -> None:
        world.ship(order)

    def release_item(self, world, order: int, sku: str) -> None:
        world.set_item_state(order, sku, "CANCELLED")

    def cancel_item(self, world, order: int, sku: str) -> None:
        world.set_item_state(order, sku, "CANCELLED")

    def return_item(self, world, order: int, sku: str) -> None:
        world.set_item_state(order, sku, "RETURNED")

    def complete_documents(self, world, order: int) -> dict[str, str]:
        url = world.tracking_url(order)
        world.set_documents(order, tracking_url=url)
        return {"tracking_number": url}

    def corrupt_price(self, world, order: int) -> None:
        world.corrupt_order(order, {"items.0.total_charged": "twelve euros"})

    def repair(self, world, order: int) -> None:
        world.corrupt_order(order, None)

    def open_care(self, world, item_ref: str) -> str:
        raise AssertionError("Refurbed has no care records")


DRIVERS = {"backmarket": BackMarketDriver(), "refurbed": RefurbedDriver()}
