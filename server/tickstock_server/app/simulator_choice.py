"""Which producer simulator the settings ask for.

Apart from `pattern_side` so the ingest role, which runs the simulator but serves no patterns, does not
load the pattern servicers (and gRPC with them).
"""

from __future__ import annotations

from tickstock_server.config import Settings
from tickstock_server.producer_sim.simulator import SimulatorConfig
from tickstock_server.simulation.market import synthetic_symbols

__all__ = ["simulator_config"]


def simulator_config(settings: Settings) -> SimulatorConfig | None:
    """The producer simulator to run, if the settings ask for one (`auto`: with the embedded Redis)."""
    config = settings.patterns
    if config.simulator == "off" or (config.simulator == "auto" and settings.redis_url is not None):
        return None
    return SimulatorConfig(
        seed=settings.feed.seed,
        symbols=synthetic_symbols(min(200, settings.feed.symbols)),
        patterns_per_s=config.simulator_patterns_per_s,
    )
