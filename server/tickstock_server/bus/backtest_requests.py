"""Backtest jobs and cancellations published to the producer (TickStockPL) on Redis, as the original did."""

from __future__ import annotations

import dataclasses
import json

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from tickstock_server.domain.backtests import Backtest
from tickstock_server.errors import DependencyUnavailableError
from tickstock_server.producer.channels import ProducerChannels
from tickstock_server.support.time_units import NS_PER_S

_CONTRACT = ProducerChannels()


class RedisBacktestRequests:
    """The `BacktestRequestPublisher` port on Redis pub/sub.

    Pub/sub keeps nothing: a job published while no producer is subscribed is lost, which is why
    `publish_job` returns the number of receivers.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        job_channel: str = _CONTRACT.backtest_jobs,
        cancel_channel: str = _CONTRACT.backtest_cancel,
        source: str = "tickstock",
    ) -> None:
        """Publish with `redis` (the caller owns and closes it).

        Args:
            redis: A client of the producer's Redis.
            job_channel: Channel the producer takes jobs from.
            cancel_channel: Channel the producer takes cancellations from.
            source: ``source`` field of the messages.
        """
        self._redis = redis
        self._job_channel = job_channel
        self._cancel_channel = cancel_channel
        self._source = source

    @property
    def job_destination(self) -> str:
        """The job channel."""
        return self._job_channel

    async def publish_job(self, backtest: Backtest) -> int:
        """Publish the job; return how many subscribers received it.

        Raises:
            DependencyUnavailableError: Redis is unreachable.
        """
        return await self._publish(self._job_channel, job_message(backtest, self._source))

    async def publish_cancel(self, backtest: Backtest, *, now_ns: int) -> None:
        """Publish the cancellation.

        Raises:
            DependencyUnavailableError: Redis is unreachable.
        """
        await self._publish(self._cancel_channel, cancel_message(backtest, now_ns, self._source))

    async def _publish(self, channel: str, message: str) -> int:
        try:
            return await self._redis.publish(channel, message)
        except (RedisError, OSError) as exc:
            raise DependencyUnavailableError("Redis is unavailable") from exc


def job_message(backtest: Backtest, source: str) -> str:
    """The job as the producer expects it on ``tickstock.jobs.backtest`` (the original's shape)."""
    return json.dumps(
        {
            "type": "backtest_job",
            "job_id": backtest.backtest_id,
            "user_id": backtest.user,
            "symbols": list(backtest.symbols),
            "start_date": backtest.start_date.isoformat(),
            "end_date": backtest.end_date.isoformat(),
            "patterns": list(backtest.patterns),
            "parameters": dataclasses.asdict(backtest.parameters),
            "timestamp": backtest.create_ns / NS_PER_S,
            "source": source,
        }
    )


def cancel_message(backtest: Backtest, now_ns: int, source: str) -> str:
    """The cancellation as the producer expects it on ``tickstock.jobs.cancel``."""
    return json.dumps(
        {
            "type": "cancel_job",
            "job_id": backtest.backtest_id,
            "user_id": backtest.user,
            "timestamp": now_ns / NS_PER_S,
            "source": source,
        }
    )
