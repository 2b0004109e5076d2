"""Fake marketplaces for the demo, the tests and the benchmarks: real HTTP servers on 127.0.0.1.

Each marketplace's package (``backmarket``, ``refurbed``) puts its API on the shared ``base``.
"""

from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator

#: marketplace kind -> its simulator
SIMULATORS = {"backmarket": BackMarketSimulator, "refurbed": RefurbedSimulator}
#: marketplace kind -> the token its simulator accepts when none is given
DEMO_TOKENS = {kind: simulator.demo_token for kind, simulator in SIMULATORS.items()}
