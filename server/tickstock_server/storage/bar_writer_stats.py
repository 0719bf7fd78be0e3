"""The bar writer's counters and health: a snapshot for metrics and health checks."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock_server.support.metric_samples import MetricSample, counter, gauge


@dataclass(frozen=True, slots=True, kw_only=True)
class BarWriterStats:
    """A snapshot of the writer's counters and health, for metrics and health checks."""

    rows_written: int
    """Bar rows upserted by successful flushes (a bar flushed again after a newer revision counts twice)."""
    quarantined: int
    """Bars PostgreSQL rejected for their data, moved to ``ohlcv_1min_quarantine`` instead."""
    flushes: int
    """Successful flushes."""
    failed_flushes: int
    """Flush attempts that failed and will be retried."""
    pending: int
    """Bars not yet known to be durable (buffered or in a flush that has not committed)."""
    backpressure_waits: int
    """Times `put` had to wait for room because `pending` had reached ``max_pending``."""
    backpressure_s: float
    """Total seconds `put` callers spent waiting for room."""
    last_flush_lag_s: float | None
    """Seconds from the oldest put of the last successful flush until its commit; None before one."""
    last_error: str | None
    """The last flush error (type and message), None once a flush succeeds again."""
    healthy: bool
    """False while flushes are failing or the buffer is full."""

    def metric_samples(self) -> list[MetricSample]:
        """These counters and health as metric samples (the flush lag only once a flush succeeded)."""
        samples = [
            counter("tickstock_bars_written", "Bar rows written to PostgreSQL.", self.rows_written),
            counter(
                "tickstock_bars_quarantined",
                "Bars rejected by PostgreSQL for their data (quarantined).",
                self.quarantined,
            ),
            counter("tickstock_bar_flushes", "Successful bar flushes.", self.flushes),
            counter("tickstock_bar_flush_failures", "Failed bar flushes.", self.failed_flushes),
            gauge("tickstock_bars_pending", "Bars buffered, not yet durable.", self.pending),
            counter(
                "tickstock_bar_backpressure_seconds",
                "Time ingest waited for room in the full bar buffer.",
                self.backpressure_s,
            ),
            gauge(
                "tickstock_bar_writer_healthy",
                "1 while bar flushes succeed and the buffer has room.",
                float(self.healthy),
            ),
        ]
        if self.last_flush_lag_s is not None:
            samples.append(
                gauge(
                    "tickstock_bar_flush_lag_seconds",
                    "Time from put to commit of the oldest bar of the last flush.",
                    self.last_flush_lag_s,
                )
            )
        return samples
