"""Fake marketplaces for the demo, the tests and the benchmarks: real HTTP servers on 127.0.0.1."""

from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator

#: marketplace kind -> its simulator, and the token the simulator accepts when none is given.
SIMULATORS = {"backmarket": BackMarketSimulator, "refurbed": RefurbedSimulator}
DEMO_TOKENS = {"backmarket": "demo-backmarket-token", "refurbed": "demo-refurbed-token"}
