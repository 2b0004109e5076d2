"""A fake Back Market seller API on 127.0.0.1, faithful to Back Market's OpenAPI document.

with BackMarketSimulator(tokens={"demo-backmarket-token"}, seed=7, orders=20) as sim:
    sim.url              # http://127.0.0.1:PORT
    sim.world.advance(minutes=60)

``BackMarketSimulator(..., lines_per_order=2)`` gives every order exactly that many lines.
"""

from __future__ import annotations

from ..base.running import RunningSimulator
from ..base.values import DELETE
from .faults import Faults
from .model import ApiError
from .server import Handler
from .world import World


class BackMarketSimulator(RunningSimulator):
    name = "backmarket-simulator"
    title = "Back Market"
    default_port = 8710
    token_env = "BACKMARKET_FR_TOKEN"
    demo_token = "demo-backmarket-token"
    world_class = World
    faults_class = Faults
    handler_class = Handler

    def _started(self) -> None:
        self.world.base_url = self.url  # the listing's `next` links are absolute


__all__ = ["DELETE", "ApiError", "BackMarketSimulator", "Faults", "World"]
