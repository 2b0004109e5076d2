"""One way to drive each marketplace's simulator, so that the same tests run against every kind.

A driver speaks the simulator's own language (Back Market line state codes, Refurbed item state
names) and says what the sync should make of it (the normalised status).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ordersync_pipeline.marketplaces.backmarket import adapter as backmarket
from ordersync_pipeline.marketplaces.refurbed import adapter as refurbed
from ordersync_pipeline.simulator.backmarket import DELETE, BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator

#: the bad payloads a sync must survive, by case
BAD_PAYLOADS = ("missing_fields", "price_not_a_number", "unknown_state", "quantity_zero", "id_changed_type")


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

    #: turns a served payload into an order, or raises ValueError
    parse_order = staticmethod(backmarket.parse_order)

    def bad_payload(self, case: str, order: int) -> tuple[dict, str] | None:
        """(overrides that spoil the order's payload this way, the field the error must name)."""
        return {
            "missing_fields": ({"currency": DELETE, "date_creation": DELETE}, "currency"),
            "price_not_a_number": ({"price": "twelve euros"}, "price"),
            "unknown_state": ({"orderlines": {0: {"state": 42}}}, "orderlines[0].state"),
            "quantity_zero": ({"orderlines": {0: {"quantity": 0}}}, "orderlines[0].quantity"),
            "id_changed_type": ({"order_id": str(order)}, "order_id"),
        }[case]


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

    parse_order = staticmethod(refurbed.parse_order)

    def bad_payload(self, case: str, order: int) -> tuple[dict, str] | None:
        """(overrides that spoil the order's payload this way, the field the error must name);
        None where Refurbed's payload has no such field (an item is one unit: no quantity)."""
        return {
            "missing_fields": ({"currency_code": DELETE, "released_at": DELETE}, "currency_code"),
            "price_not_a_number": ({"total_charged": "twelve euros"}, "total_charged"),
            "unknown_state": ({"items.0.state": "LOST_IN_TRANSIT"}, "items[0].state"),
            "quantity_zero": None,
            "id_changed_type": ({"id": int(order)}, "id"),
        }[case]


DRIVERS = {"backmarket": BackMarketDriver(), "refurbed": RefurbedDriver()}
