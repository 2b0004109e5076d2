"""A fake Refurbed merchant API on 127.0.0.1, faithful to Refurbed's Swagger document.

with RefurbedSimulator(tokens={"demo-refurbed-token"}, seed=7, orders=20) as sim:
    sim.url              # http://127.0.0.1:PORT
    sim.world.create_order(lines=[{"sku": "IPH13-128-BLK-A", "price": "399.00"}])
    sim.world.advance(minutes=60)
"""

from __future__ import annotations

from ..base.running import RunningSimulator
from ..base.values import DELETE
from .faults import Faults
from .model import ApiError
from .server import Handler
from .world import World


class RefurbedSimulator(RunningSimulator):
    name = "refurbed-simulator"
    title = "Refurbed"
    default_port = 8720
    token_env = "REFURBED_DE_TOKEN"
    demo_token = "demo-refurbed-token"
    world_class = World
    faults_class = Faults
    handler_class = Handler


__all__ = ["DELETE", "ApiError", "Faults", "RefurbedSimulator", "World"]
