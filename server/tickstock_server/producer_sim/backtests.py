"""The simulated producer's backtest worker: answers jobs with progress then a result, stops on cancel."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from tickstock_server.producer_sim.contract import (
    JsonObject,
    ProducerChannels,
    backtest_progress_message,
    backtest_result_message,
    encode_message,
)
from tickstock_server.producer_sim.retry import RetryPolicy, run_with_retry

__all__ = ["BacktestJob", "BacktestResponder", "parse_backtest_job", "simulated_backtest_results"]

_logger = logging.getLogger(__name__)

_MAX_JOB_ID_CHARS = 200
_REMEMBERED_CANCELS = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestJob:
    """The fields of a ``backtest_job`` message the simulator uses."""

    job_id: str
    symbols: tuple[str, ...]
    patterns: tuple[str, ...]


def parse_backtest_job(payload: object) -> BacktestJob | str:
    """Read a decoded job message; return the job, or the reason it cannot run.

    A message without a usable ``job_id`` cannot be answered at all; the caller drops it.
    """
    if not isinstance(payload, dict):
        return "not a JSON object"
    job_id = payload.get("job_id")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= _MAX_JOB_ID_CHARS:
        return "no job_id"
    symbols = payload.get("symbols")
    patterns = payload.get("patterns")
    if not isinstance(symbols, list) or not symbols or not all(isinstance(s, str) and s for s in symbols):
        return "symbols must be a non-empty list of strings"
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        return "patterns must be a non-empty list of strings"
    return BacktestJob(job_id=job_id, symbols=tuple(symbols), patterns=tuple(dict.fromkeys(patterns)))


def simulated_backtest_results(rng: random.Random, job: BacktestJob) -> JsonObject:
    """Plausible metrics of a completed backtest, drawn from `rng`.

    Units: ``total_return`` and ``max_drawdown`` in percent (the drawdown as a positive magnitude),
    ``win_rate`` a fraction 0 to 1, ``sharpe_ratio`` annualised; ``per_pattern`` maps each of the
    job's patterns to its ``trades``, ``win_rate`` and ``total_return``.
    """
    per_pattern: dict[str, JsonObject] = {}
    total_trades = 0
    wins = 0.0
    total_return = 0.0
    for pattern in job.patterns:
        trades = rng.randint(1, 12) * len(job.symbols)
        win_rate = rng.uniform(0.35, 0.70)
        pattern_return = rng.gauss(2.0 + 10.0 * (win_rate - 0.5), 6.0)
        per_pattern[pattern] = {
            "trades": trades,
            "win_rate": round(win_rate, 3),
            "total_return": round(pattern_return, 2),
        }
        total_trades += trades
        wins += win_rate * trades
        total_return += pattern_return
    return {
        "total_return": round(total_return, 2),
        "win_rate": round(wins / total_trades, 3),
        "total_trades": total_trades,
        "sharpe_ratio": round(rng.gauss(0.8, 0.6), 2),
        "max_drawdown": round(rng.uniform(2.0, 25.0), 2),
        "per_pattern": per_pattern,
    }


class BacktestResponder:
    """Subscribes to the job and cancel channels and runs each job as a short simulated backtest.

    A job publishes progress 0 at once, then `steps` progress messages `step_s` apart (``steps`` =
    2 per symbol, between 2 and `max_steps`; ``current_symbol`` walks through the job's symbols), the
    last at progress 1, then its ``completed`` result. The metrics come from a generator seeded with
    the simulator's seed and the job id, so a job always gets the same result.

    A cancel request (any JSON object with the ``job_id``) stops the job at once: no more progress and
    no result. A result with status "cancelled" is deliberately not sent: the original app marked every
    result whose status is not "completed" as FAILED, and the app already records the cancellation when
    it publishes the request. A cancel arriving before its job is remembered (the last 1,024), so the
    job is then never run.

    Bounds: at most `max_jobs` jobs run at once; a job beyond that is answered with a ``failed`` result
    ("producer busy") instead of waiting. A job id already running is ignored. A job message that
    names its ``job_id`` but is otherwise invalid gets a ``failed`` result with the reason; one without
    a ``job_id`` is dropped and counted.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        channels: ProducerChannels,
        *,
        seed: int,
        step_s: float,
        max_steps: int,
        max_jobs: int,
        clock_s: Callable[[], float],
        retry: RetryPolicy,
    ) -> None:
        self._client = client
        self._channels = channels
        self._seed = seed
        self._step_s = step_s
        self._max_steps = max_steps
        self._max_jobs = max_jobs
        self._clock_s = clock_s
        self._retry = retry
        self._running: dict[str, asyncio.Task[None]] = {}
        self._cancelled: OrderedDict[str, None] = OrderedDict()
        self._tasks: asyncio.TaskGroup | None = None
        self.jobs_completed = 0
        self.jobs_cancelled = 0
        self.jobs_rejected = 0
        """Jobs answered with a failed result (invalid or over the limit)."""
        self.jobs_abandoned = 0
        """Jobs stopped by a Redis error while publishing their progress or result."""
        self.messages_dropped = 0
        """Job or cancel messages that named no job (not JSON, no job_id)."""

    @property
    def active_jobs(self) -> int:
        """Jobs running now."""
        return len(self._running)

    async def run(self) -> None:
        """Handle job and cancel messages until cancelled; resubscribe after a Redis outage."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            try:
                await run_with_retry("backtest jobs", self._listen, self._retry)
            finally:
                self._tasks = None

    async def _listen(self) -> None:
        channels = self._channels
        async with self._client.pubsub() as pubsub:
            await pubsub.subscribe(channels.backtest_jobs, channels.backtest_cancel)
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                channel = message["channel"]
                await self.handle(
                    channel.decode() if isinstance(channel, bytes) else channel, message["data"]
                )
        # listen() ends only when nothing is subscribed any more; subscribe again as after an outage.
        raise RedisConnectionError("job subscription ended")

    async def handle(self, channel: str, data: bytes | str) -> None:
        """Handle one message from the job or the cancel channel."""
        try:
            payload: object = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if channel == self._channels.backtest_cancel:
            self._cancel(payload)
        elif channel == self._channels.backtest_jobs:
            await self._submit(payload)

    def _cancel(self, payload: object) -> None:
        job_id = payload.get("job_id") if isinstance(payload, dict) else None
        if not isinstance(job_id, str):
            self.messages_dropped += 1
            return
        task = self._running.pop(job_id, None)
        if task is not None:
            task.cancel()
            self.jobs_cancelled += 1
            _logger.info("backtest %s cancelled", job_id)
            return
        self._cancelled[job_id] = None
        if len(self._cancelled) > _REMEMBERED_CANCELS:
            self._cancelled.popitem(last=False)

    async def _submit(self, payload: object) -> None:
        job = parse_backtest_job(payload)
        if isinstance(job, str):
            job_id = payload.get("job_id") if isinstance(payload, dict) else None
            if not isinstance(job_id, str) or not job_id:
                self.messages_dropped += 1
                _logger.warning("dropped a backtest job message: %s", job)
                return
            await self._reject(job_id, f"invalid job: {job}")
            return
        if job.job_id in self._running:
            return
        if self._cancelled.pop(job.job_id, "absent") is None:
            self.jobs_cancelled += 1
            return
        if len(self._running) >= self._max_jobs or self._tasks is None:
            await self._reject(job.job_id, "producer busy")
            return
        self._running[job.job_id] = self._tasks.create_task(self._run_job(job), name=f"backtest-{job.job_id}")

    async def _reject(self, job_id: str, reason: str) -> None:
        self.jobs_rejected += 1
        message = backtest_result_message(job_id=job_id, status="failed", results={"error": reason})
        await self._client.publish(self._channels.backtest_results, encode_message(message))

    async def _run_job(self, job: BacktestJob) -> None:
        try:
            steps = min(max(2 * len(job.symbols), 2), self._max_steps)
            await self._progress(job, 0, steps)
            for step in range(1, steps + 1):
                await asyncio.sleep(self._step_s)
                await self._progress(job, step, steps)
            results = simulated_backtest_results(random.Random(f"{self._seed}:{job.job_id}"), job)
            message = backtest_result_message(job_id=job.job_id, status="completed", results=results)
            await self._client.publish(self._channels.backtest_results, encode_message(message))
            self.jobs_completed += 1
        except (RedisError, OSError) as exc:
            # The app times the job out; a failure here must not stop the other jobs (the task group).
            self.jobs_abandoned += 1
            _logger.warning("backtest %s abandoned: Redis error %s", job.job_id, exc)
        finally:
            if self._running.get(job.job_id) is asyncio.current_task():
                del self._running[job.job_id]

    async def _progress(self, job: BacktestJob, step: int, steps: int) -> None:
        symbols: Sequence[str] = job.symbols
        current = symbols[min(step * len(symbols) // steps, len(symbols) - 1)]
        message = backtest_progress_message(
            job_id=job.job_id,
            progress=step / steps,
            current_symbol=current,
            estimated_completion_s=self._clock_s() + (steps - step) * self._step_s,
        )
        await self._client.publish(self._channels.backtest_progress, encode_message(message))
