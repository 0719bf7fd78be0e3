"""Configuration and counters of the backtest jobs (`tickstock_server.backtests.jobs.BacktestJobs`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestJobStats:
    """A snapshot of the counters, for metrics and tests."""

    submitted: int
    """Jobs accepted and stored."""
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
