"""What the loader shows while it runs: a plain log line per chunk, or a `rich` live display on a terminal."""

from __future__ import annotations

import logging
from typing import Literal, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from tickstock_server.loader.chunks import Chunk

__all__ = ["ChunkPhase", "LoadProgress", "LogProgress", "RichProgress"]

_logger = logging.getLogger(__name__)

ChunkPhase = Literal["fetching", "writing"]
"""What a chunk is doing: "fetching" (REST requests) or "writing" (PostgreSQL)."""


class LoadProgress(Protocol):
    """Receives the progress of a backfill's chunks; called from the event loop only."""

    def planned(self, *, chunks: int, skipped: int) -> None:
        """`chunks` were planned; `skipped` of them were completed by an earlier run."""
        ...

    def chunk_phase(self, chunk: Chunk, phase: ChunkPhase) -> None:
        """`chunk` entered `phase`."""
        ...

    def chunk_done(self, chunk: Chunk, *, rows: int, elapsed_s: float, recorded: bool) -> None:
        """`chunk` wrote `rows`; `recorded` is False when it reaches today and stays open for a re-run."""
        ...

    def chunk_failed(self, chunk: Chunk, reason: str) -> None:
        """`chunk` failed; a re-run retries it."""
        ...


class LogProgress:
    """One INFO line per finished chunk and one ERROR line per failed one (for logs and pipes)."""

    def __init__(self) -> None:
        self._todo = 0
        self._finished = 0

    def planned(self, *, chunks: int, skipped: int) -> None:
        """Log the plan."""
        self._todo = chunks - skipped
        _logger.info(
            "%d chunks planned: %d completed by an earlier run, %d to load", chunks, skipped, self._todo
        )

    def chunk_phase(self, chunk: Chunk, phase: ChunkPhase) -> None:
        """Nothing: a line per phase would double the log for nothing."""

    def chunk_done(self, chunk: Chunk, *, rows: int, elapsed_s: float, recorded: bool) -> None:
        """Log the chunk with its rows and duration."""
        self._finished += 1
        _logger.info(
            "[%d/%d] %s: %d rows in %.1f s%s",
            self._finished,
            self._todo,
            chunk,
            rows,
            elapsed_s,
            "" if recorded else " (reaches today: not recorded as complete)",
        )

    def chunk_failed(self, chunk: Chunk, reason: str) -> None:
        """Log the failure with its reason."""
        self._finished += 1
        _logger.error("[%d/%d] %s failed: %s", self._finished, self._todo, chunk, reason)


class _RowsPerSecondColumn(ProgressColumn):
    """Rows written per second since the task started."""

    def render(self, task: Task) -> Text:
        elapsed_s = task.elapsed or 0.0
        rows = int(task.fields.get("rows", 0))
        rate = rows / elapsed_s if elapsed_s > 0 else 0.0
        return Text(f"{rows:,} rows {rate:,.0f}/s", style="progress.data.speed")


class _FailuresColumn(ProgressColumn):
    """Failed chunks so far, red when any."""

    def render(self, task: Task) -> Text:
        failures = int(task.fields.get("failures", 0))
        if "failures" not in task.fields:
            return Text("")
        return Text(f"{failures} failed", style="bold red" if failures else "dim")


class RichProgress:
    """A live display: an overall bar (chunks, rows/s, ETA, failures) and one line per running chunk.

    Use as a context manager around the run. Failed chunks also print a line above the display, so the
    reasons stay on screen after it closes.
    """

    def __init__(self, console: Console) -> None:
        """Draw on `console` (a terminal)."""
        self._console = console
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RowsPerSecondColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            _FailuresColumn(),
            console=console,
        )
        self._overall: TaskID | None = None
        self._running: dict[Chunk, TaskID] = {}
        self._rows = 0
        self._failures = 0

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.stop()

    def planned(self, *, chunks: int, skipped: int) -> None:
        """Add the overall bar."""
        self._console.print(f"{chunks} chunks planned: {skipped} completed by an earlier run")
        self._overall = self._progress.add_task("all chunks", total=chunks - skipped, rows=0, failures=0)

    def chunk_phase(self, chunk: Chunk, phase: ChunkPhase) -> None:
        """Add the chunk's line, or move it to the next step."""
        task = self._running.get(chunk)
        if task is None:
            # Two steps per chunk: the REST fetch, then the write.
            self._running[chunk] = self._progress.add_task(f"  {chunk} ({phase})", total=2, rows=0)
        else:
            self._progress.update(task, description=f"  {chunk} ({phase})", advance=1)

    def chunk_done(self, chunk: Chunk, *, rows: int, elapsed_s: float, recorded: bool) -> None:
        """Remove the chunk's line and advance the overall bar."""
        self._rows += rows
        self._finish(chunk)
        if self._overall is not None:
            self._progress.update(self._overall, advance=1, rows=self._rows)

    def chunk_failed(self, chunk: Chunk, reason: str) -> None:
        """Print the failure above the display and count it."""
        self._failures += 1
        self._finish(chunk)
        self._console.print(Text(f"{chunk} failed: {reason}", style="red"))
        if self._overall is not None:
            self._progress.update(self._overall, advance=1, failures=self._failures)

    def _finish(self, chunk: Chunk) -> None:
        task = self._running.pop(chunk, None)
        if task is not None:
            self._progress.remove_task(task)
