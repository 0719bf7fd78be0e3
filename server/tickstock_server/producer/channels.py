"""Redis channel and key names of the TickStockPL producer contract (consumer and simulator alike)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerChannels:
    """Channel and key names of the contract shared with TickStockPL; the defaults are the names it uses."""

    patterns: str = "tickstock.events.patterns"
    """Pattern envelopes, producer -> app."""
    backtest_progress: str = "tickstock.events.backtesting.progress"
    """Backtest progress, producer -> app."""
    backtest_results: str = "tickstock.events.backtesting.results"
    """Backtest results, producer -> app."""
    health: str = "tickstock.health.status"
    """`system_health` envelopes, producer -> app."""
    backtest_jobs: str = "tickstock.jobs.backtest"
    """Backtest jobs, app -> producer."""
    backtest_cancel: str = "tickstock.jobs.cancel"
    """Backtest cancel requests, app -> producer."""
    heartbeat_key: str = "tickstock:producer:heartbeat"
    """String key holding the producer's last heartbeat, epoch seconds as a float."""

    def with_prefix(self, prefix: str) -> ProducerChannels:
        """These names with `prefix` in front of each (tests use a unique prefix per test)."""
        return ProducerChannels(
            patterns=prefix + self.patterns,
            backtest_progress=prefix + self.backtest_progress,
            backtest_results=prefix + self.backtest_results,
            health=prefix + self.health,
            backtest_jobs=prefix + self.backtest_jobs,
            backtest_cancel=prefix + self.backtest_cancel,
            heartbeat_key=prefix + self.heartbeat_key,
        )
