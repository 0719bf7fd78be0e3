"""Configuration and counters of the backtest jobs (`tickstock_server.backtests.jobs.BacktestJobs`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tickstock_server.support.metric_samples import MetricSample, counter, counters_by_reason, gauge


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestJobsConfig:
    """Write pacing and bounds of `BacktestJobs` (the producer's channels are the publisher's)."""

    progress_write_interval_s: float = 1.0
    """Least time between two progress writes to the store, in seconds."""
    max_pending_updates: int = 10_000
    """Most jobs with unwritten progress, and most unwritten outcomes (while the store is down); beyond
    that a new progress report is dropped (a later one replaces it) and an outcome is dropped with an
    error log."""
    max_watchers_per_user: int = 16
    """Most concurrent `watch` streams of one user."""
    remembered_final_jobs: int = 10_000
    """Ids of jobs known to have ended, kept to drop late messages without a database write."""
    max_active_per_user: int = 5
    """Most QUEUED or RUNNING jobs of one user; a submission beyond it is refused (`LimitExceededError`).
    It also bounds the queue: at most this many jobs per user, this times the users in all."""
    max_in_flight: int = 8
    """Most jobs handed to the producer and not ended, over all users and server processes; the rest
    wait QUEUED in TickStock's queue. Keep it at or below the producer's own limit (the simulator's
    ``max_backtest_jobs``, 16), which answers jobs beyond it with "producer busy"."""
    dispatch_silence_s: float = 600.0
    """A dispatched job the producer has not reported on for this long, in seconds, counts as lost: it no
    longer takes a place in flight, and one that never started (still QUEUED) is handed over again."""
    dispatch_poll_s: float = 1.0
    """Seconds between dispatch passes when nothing wakes the dispatcher (places freed by another process,
    lost jobs, a retry after Redis or PostgreSQL failed)."""

    def __post_init__(self) -> None:
        if self.max_active_per_user < 1 or self.max_in_flight < 1:
            raise ValueError("max_active_per_user and max_in_flight must be at least 1")
        if self.dispatch_silence_s <= 0 or self.dispatch_poll_s <= 0:
            raise ValueError("dispatch_silence_s and dispatch_poll_s must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestJobStats:
    """A snapshot of the counters, for metrics and tests."""

    submitted: int
    """Jobs accepted and stored."""
    refused_over_quota: int
    """Submissions refused because the user had `max_active_per_user` active jobs."""
    dispatched: int
    """Jobs handed to the producer (a lost job handed over again counts again)."""
    unheard: int
    """Submitted jobs no producer was subscribed to receive; they were marked FAILED."""
    cancelled: int
    """Jobs cancelled by their owners."""
    completed: int
    failed: int
    """Jobs the producer reported as failed."""
    publish_failures: int
    """Job or cancel messages the publisher could not hand over."""
    write_failures: int
    """Failed attempts to write progress or outcomes (retried)."""
    ignored_by_reason: Mapping[str, int]
    """Producer messages not applied: "final" (the job had ended), "not_active" (PostgreSQL knows no
    active job of that id), "invalid" (a non-finite progress), "overflow" (too many pending)."""
    pending_progress: int
    pending_outcomes: int
    watchers: int
    states_conflated: int
    """States a watcher never saw because a newer one replaced them before it read."""

    def metric_samples(self) -> list[MetricSample]:
        """These counters as metric samples; producer messages ignored by reason."""
        ignored = "Producer backtest messages not applied, by reason: final, not_active, invalid, overflow."
        return [
            counter("tickstock_backtests_submitted", "Backtest jobs accepted and stored.", self.submitted),
            counter(
                "tickstock_backtests_refused",
                "Backtest submissions refused because the user had the most active jobs allowed.",
                self.refused_over_quota,
                reason="quota",
            ),
            counter(
                "tickstock_backtests_dispatched",
                "Backtest jobs handed to the producer from TickStock's fair queue.",
                self.dispatched,
            ),
            counter(
                "tickstock_backtests_unheard",
                "Submitted backtests no producer was subscribed to receive (marked failed).",
                self.unheard,
            ),
            counter("tickstock_backtests_cancelled", "Backtests cancelled by their owners.", self.cancelled),
            counter(
                "tickstock_backtests_completed",
                "Backtests the producer reported as completed.",
                self.completed,
            ),
            counter("tickstock_backtests_failed", "Backtests the producer reported as failed.", self.failed),
            counter(
                "tickstock_backtest_publish_failures",
                "Backtest job or cancel messages Redis could not take.",
                self.publish_failures,
            ),
            counter(
                "tickstock_backtest_write_failures",
                "Failed attempts to write backtest progress or outcomes to PostgreSQL (retried).",
                self.write_failures,
            ),
            *counters_by_reason("tickstock_backtest_messages_ignored", ignored, self.ignored_by_reason),
            gauge(
                "tickstock_backtest_progress_pending",
                "Jobs with progress not yet written.",
                self.pending_progress,
            ),
            gauge(
                "tickstock_backtest_outcomes_pending", "Job outcomes not yet written.", self.pending_outcomes
            ),
            gauge("tickstock_backtest_watchers", "Open backtest watch streams.", self.watchers),
            counter(
                "tickstock_backtest_states_conflated",
                "Backtest states a watcher never saw because a newer one replaced them first.",
                self.states_conflated,
            ),
        ]
