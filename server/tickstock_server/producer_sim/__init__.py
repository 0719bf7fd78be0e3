"""Simulated TickStockPL pattern producer (``tickstock-pl-sim``): realistic producer traffic on Redis."""

from tickstock_server.producer_sim.contract import ProducerChannels
from tickstock_server.producer_sim.simulator import (
    DEFAULT_SYMBOLS,
    ProducerSimulator,
    SimulatorConfig,
    run_simulator,
)

__all__ = ["DEFAULT_SYMBOLS", "ProducerChannels", "ProducerSimulator", "SimulatorConfig", "run_simulator"]
