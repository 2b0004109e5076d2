"""A shop for the real-time tests: Back Market and Refurbed simulators selling one SKU from one
stock, their marketplace rows (Refurbed's with a notification secret), and ways to wait."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.realtime.service import RealtimeOptions, RealtimeService
from ordersync_pipeline.stock import seed_stock
from ordersync_pipeline.stock.push import push_stock
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS
from ordersync_pipeline_tests.sync_helpers import TOKEN, Marketplace, add_marketplace

SKU = "IPH13-128-BLK-A"
LINE = {"sku": SKU, "quantity": 1, "price": "389.00"}
SECRET = "notify-secret-7d41e0"
SECRET_ENV = "RB_DE_NOTIFY_SECRET"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``condition`` until it is truthy; its value. Generous: the machine may be loaded."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


def post(url: str, path: str, body: bytes | None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One POST over real HTTP; (status, JSON answer)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers or {})
        answer = conn.getresponse()
        raw = answer.read()
        return answer.status, json.loads(raw) if raw else {}
    finally:
        conn.close()


def notify(url: str, order_id: Any, secret: str = SECRET, code: str = "refurbed-de") -> tuple[int, dict]:
    body = json.dumps({"order_id": order_id}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {secret}"}
    return post(url, f"/notifications/{code}", body, headers)


@dataclass
class Shop:
    engine: Engine
    bm: Marketplace
    rb: Marketplace
    on_hand: int
    stack: ExitStack = field(default_factory=ExitStack)

    def service(self, **options: Any) -> RealtimeService:
        """The real-time service on a free port (stopped with the shop)."""
        with self.engine.connect() as conn:
            rows = list(conn.execute(select(tables.marketplaces).order_by(tables.marketplaces.c.id)))
        options.setdefault("port", 0)
        service = RealtimeService(self.engine, rows, RealtimeOptions(**options))
        self.stack.callback(service.stop)
        return service.start()

    def listed(self) -> tuple[int, int]:
        """What each marketplace shows for the SKU: Back Market's, Refurbed's."""
        return self.bm.world.listing_quantity(SKU), self.rb.world.listing_quantity(SKU)

    def count(self, table, *where) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    def events(self) -> list[tuple[str, str]]:
        """(order reference, event type) of every event, in order."""
        query = (
            select(tables.orders.c.reference, tables.order_events.c.type)
            .join(tables.orders, tables.orders.c.id == tables.order_events.c.order_id)
            .order_by(tables.order_events.c.id)
        )
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def locks(self) -> dict[str, str]:
        query = select(tables.order_items.c.reference, tables.marketplace_stock_locks.c.status).join(
            tables.marketplace_stock_locks, tables.marketplace_stock_locks.c.order_item_id == tables.order_items.c.id
        )
        with self.engine.connect() as conn:
            return dict(conn.execute(query).all())

    def inbox(self) -> list:
        with self.engine.connect() as conn:
            return list(conn.execute(select(tables.notification_inbox).order_by(tables.notification_inbox.c.id)))


def open_shop(engine: Engine, monkeypatch, on_hand: int = 3, bm_settings: dict | None = None) -> Shop:
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    monkeypatch.setenv("RB_DE_TOKEN", TOKEN)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    stack = ExitStack()
    bm_sim = stack.enter_context(DRIVERS["backmarket"].simulator(TOKEN, seed=1))
    rb_sim = stack.enter_context(DRIVERS["refurbed"].simulator(TOKEN, seed=2))
    bm = add_marketplace(engine, bm_sim, "backmarket-fr", "BM_FR_TOKEN", "backmarket", bm_settings)
    rb = add_marketplace(
        engine, rb_sim, "refurbed-de", "RB_DE_TOKEN", "refurbed", {"notification_secret_env": SECRET_ENV}
    )
    listings = {m.code: {s["sku"]: str(s["listing_id"]) for s in m.world.catalogue()}[SKU] for m in (bm, rb)}
    assert seed_stock(engine, [{"sku": SKU, "on_hand": on_hand, "listings": listings}]).ok
    push_stock(engine, adapter_for)
    shop = Shop(engine, bm, rb, on_hand, stack)
    assert shop.listed() == (on_hand, on_hand)
    return shop
