"""Signs of life of the real-time components, for the check that turns red when one stops."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from ordersync_pipeline.db.tables import marketplaces, realtime_heartbeats, utcnow

#: intervals without a beat after which a component is taken to have stopped
STALE_AFTER_INTERVALS = 3


def beat(engine: Engine, component: str, marketplace_id: int, interval: float, details: dict[str, Any]) -> None:
    now = utcnow()
    with engine.begin() as conn:
        changed = conn.execute(
            update(realtime_heartbeats)
            .where(
                realtime_heartbeats.c.component == component,
                realtime_heartbeats.c.marketplace_id == marketplace_id,
            )
            .values(beat_at=now, interval_seconds=interval, details=details)
        ).rowcount
        if not changed:
            conn.execute(
                realtime_heartbeats.insert().values(
                    component=component,
                    marketplace_id=marketplace_id,
                    beat_at=now,
                    interval_seconds=interval,
                    details=details,
                )
            )


@dataclass(frozen=True)
class Heartbeat:
    component: str
    marketplace: str
    beat_at: datetime
    interval_seconds: float
    details: dict[str, Any]

    def age(self, now: datetime) -> timedelta:
        return now - self.beat_at

    def stale(self, now: datetime) -> bool:
        return self.age(now) > timedelta(seconds=self.interval_seconds * STALE_AFTER_INTERVALS)


def heartbeats(engine: Engine) -> list[Heartbeat]:
    """Every component that has ever beat, with its marketplace's code."""
    query = (
        select(realtime_heartbeats, marketplaces.c.code)
        .join(marketplaces, marketplaces.c.id == realtime_heartbeats.c.marketplace_id)
        .order_by(realtime_heartbeats.c.component, marketplaces.c.code)
    )
    with engine.connect() as conn:
        return [
            Heartbeat(r.component, r.code, r.beat_at, float(r.interval_seconds), dict(r.details or {}))
            for r in conn.execute(query)
        ]
