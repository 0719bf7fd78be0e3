"""The consumer's Redis link: pub/sub on the producer's channels, resubscribed with backoff; the heartbeat."""

from __future__ import annotations

import asyncio
import decimal
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Final

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from tickstock_server.ports.producer import MessageSink, ProducerLink, ProducerLinkFactory
from tickstock_server.producer.consumer_settings import PatternConsumerConfig
from tickstock_server.support.backoff import Backoff
from tickstock_server.support.cancellation import cancel_and_wait, raise_if_cancelling
from tickstock_server.support.log_limiter import LogLimiter
from tickstock_server.support.time_units import NS_PER_S

__all__ = ["ProducerSubscription", "producer_link"]

_logger = logging.getLogger(__name__)

_YIELD_EVERY: Final = 256
"""Messages handled back to back before the reader yields to other tasks (buffered data never waits)."""
_CONNECTION_OPTIONS: Final = frozenset(
    {
        "host", "port", "path", "db", "username", "password", "credential_provider", "client_name",
        "lib_name", "lib_version", "socket_keepalive", "socket_keepalive_options", "socket_type",
    }
)  # fmt: skip
"""Connection options copied from the given client (with every ``ssl_*`` one)."""


class ProducerSubscription:
    """Subscribes to `channels` and passes every message to `on_message`; reads the heartbeat key.

    Opens its own connections to the server of the client it is given: RESP2 (which redis-py parses
    fastest) and none of redis-py's own retries, so an outage shows at once and this class's backoff is
    the only one. When the pub/sub connection fails, or a PING after `idle_ping_s` of silence gets no
    reply, `connected` turns False and it subscribes again after `reconnect_initial_s`, doubling up to
    `reconnect_max_s`, with jitter if `jitter_rng` is given. `connected` turns True once Redis confirmed
    every subscription; `reconnects` counts each such return.

    Messages are read and handed over inline, one at a time: there is no queue to fill. If `on_message`
    falls behind, unread messages wait in Redis' output buffer for this client; past Redis'
    ``client-output-buffer-limit pubsub`` (by default 32 MB, or 8 MB for 60 s) Redis drops the connection,
    and the subscription reconnects as above. Messages published while disconnected are lost (pub/sub).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        channels: Sequence[str],
        heartbeat_key: str,
        on_message: Callable[[bytes, bytes], None],
        *,
        config: PatternConsumerConfig,
        log_limiter: LogLimiter,
        jitter_rng: random.Random | None = None,
    ) -> None:
        """Prepare; nothing connects until `run()`. `on_message(channel, data)` must not raise."""
        self._redis = redis
        self._channels = tuple(channels)
        self._heartbeat_key = heartbeat_key
        self._on_message = on_message
        self._config = config
        self._log_limiter = log_limiter
        self._jitter_rng = jitter_rng
        self._connected = False
        self._ever_connected = False
        self._last_traffic_s = 0.0
        self.reconnects = 0
        """Returns to `connected` after a lost connection."""
        self.heartbeat_ns: int | None = None
        """The heartbeat key's time, UTC epoch ns; None when missing or malformed (kept on a failed read)."""

    @property
    def connected(self) -> bool:
        """True while subscribed to every channel."""
        return self._connected

    async def run(self) -> None:
        """Subscribe, consume and poll the heartbeat until cancelled."""
        pool = _dedicated_pool(self._redis, self._config.socket_timeout_s)
        client = aioredis.Redis(connection_pool=pool)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._poll_heartbeat(client), name="producer-heartbeat")
                await self._follow(client)
        finally:
            self._connected = False
            await client.aclose()
            await pool.aclose()

    async def _follow(self, client: aioredis.Redis) -> None:
        """Subscribe and consume; after each lost connection, back off and subscribe again. Never returns."""
        backoff = Backoff(self._config.reconnect_initial_s, self._config.reconnect_max_s, self._jitter_rng)
        while True:
            try:
                await self._session(client, backoff)
            except (RedisError, OSError) as exc:
                if self._connected:
                    _logger.warning(
                        "Lost the producer's Redis pub/sub connection (%s: %s); messages published until "
                        "it is back are lost",
                        type(exc).__name__,
                        exc,
                    )
                else:
                    _logger.info(
                        "Cannot subscribe to the producer's channels: %s: %s", type(exc).__name__, exc
                    )
            finally:
                self._connected = False
            raise_if_cancelling()
            delay_s = backoff.next_delay_s()
            _logger.warning(
                "Subscribing to the producer's channels again in %.2f s (attempt %d)",
                delay_s,
                backoff.attempt,
            )
            await asyncio.sleep(delay_s)

    async def _session(self, client: aioredis.Redis, backoff: Backoff) -> None:
        """Subscribe, then read and watch until the connection fails (raises RedisError or OSError)."""
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(*self._channels)
            raise_if_cancelling()
            self._last_traffic_s = asyncio.get_running_loop().time()
            reader = asyncio.create_task(self._read(pubsub, backoff), name="producer-pubsub-read")
            watchdog = asyncio.create_task(self._watch(pubsub), name="producer-pubsub-watchdog")
            try:
                done, _ = await asyncio.wait((reader, watchdog), return_when=asyncio.FIRST_COMPLETED)
            finally:
                # Neither raises the tasks' CancelledError nor swallows our own cancellation.
                await cancel_and_wait((reader, watchdog))
            for task in done:
                task.result()  # raises what ended the session; neither task returns

    async def _read(self, pubsub: PubSub, backoff: Backoff) -> None:
        # parse_response rather than get_message: the raw RESP2 reply, without the per-message dict and
        # timeout context get_message adds (about 10% of the receive path).
        loop = asyncio.get_running_loop()
        on_message = self._on_message
        confirmed: set[bytes] = set()
        handled = 0
        while True:
            response = await pubsub.parse_response(block=True)
            raise_if_cancelling()
            self._last_traffic_s = loop.time()
            if response is None:  # a health-check reply
                continue
            kind = response[0]
            if kind == b"message":
                on_message(response[1], response[2])
                handled += 1
                if handled % _YIELD_EVERY == 0:
                    await asyncio.sleep(0)
            elif kind == b"subscribe":
                confirmed.add(response[1])
                if len(confirmed) == len(set(self._channels)) and not self._connected:
                    self._on_subscribed(backoff)

    async def _watch(self, pubsub: PubSub) -> None:
        # A quiet channel is normal, and a dead TCP connection (peer gone without a FIN) looks the same:
        # after idle_ping_s of silence, PING; no traffic within as long again ends the session.
        idle_s = self._config.idle_ping_s
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(idle_s)
            if loop.time() - self._last_traffic_s < idle_s:
                continue
            ping_s = loop.time()
            await pubsub.ping()
            raise_if_cancelling()
            await asyncio.sleep(idle_s)
            if self._last_traffic_s < ping_s:
                raise RedisConnectionError(f"no reply to PING within {idle_s:.1f} s")

    def _on_subscribed(self, backoff: Backoff) -> None:
        self._connected = True
        backoff.reset()
        if self._ever_connected:
            self.reconnects += 1
            _logger.warning("Subscribed to the producer's channels again (reconnect %d)", self.reconnects)
        else:
            _logger.info("Subscribed to the producer's channels %s", ", ".join(self._channels))
        self._ever_connected = True

    async def _poll_heartbeat(self, client: aioredis.Redis) -> None:
        key = self._heartbeat_key
        while True:
            try:
                value = await client.get(key)
            except (RedisError, OSError) as exc:
                if self._log_limiter.allow("heartbeat_read"):
                    _logger.warning(
                        "Could not read the producer heartbeat %s (%s: %s); keeping the last value",
                        key,
                        type(exc).__name__,
                        exc,
                    )
            else:
                self.heartbeat_ns = self._heartbeat_ns(value)
            raise_if_cancelling()
            await asyncio.sleep(self._config.heartbeat_poll_s)

    def _heartbeat_ns(self, value: bytes | str | None) -> int | None:
        if value is None:
            return None
        try:
            seconds = decimal.Decimal((value.decode("ascii") if isinstance(value, bytes) else value).strip())
            if seconds.is_finite() and seconds > 0:
                # Decimal keeps the digits a float of today's epoch seconds would round off.
                return int(seconds * NS_PER_S)
        except (decimal.InvalidOperation, UnicodeDecodeError):
            pass
        if self._log_limiter.allow("heartbeat_value"):
            _logger.warning(
                "The producer heartbeat %s holds %r, not epoch seconds", self._heartbeat_key, value[:64]
            )
        return None


def _dedicated_pool(shared: aioredis.Redis, timeout_s: float) -> aioredis.ConnectionPool:
    """A small pool to the server of `shared`, with its connection options and our protocol and retries.

    Only options that say where and as whom to connect are copied: the shared pool's keyword arguments
    also hold objects bound to that pool (maintenance-notification handlers and the like).
    """
    pool = shared.connection_pool
    options = {
        key: value
        for key, value in pool.connection_kwargs.items()
        if key in _CONNECTION_OPTIONS or key.startswith("ssl_")
    }
    return aioredis.ConnectionPool(
        connection_class=pool.connection_class,
        max_connections=4,
        protocol=2,
        decode_responses=False,
        retry=Retry(NoBackoff(), 0),
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        **options,
    )


def producer_link(
    redis: aioredis.Redis, config: PatternConsumerConfig, *, jitter_rng: random.Random | None = None
) -> ProducerLinkFactory:
    """Links to the producer's Redis for `PatternConsumer`, with the connection options of `redis`.

    Only the client's connection options (server, database, credentials, TLS) are used: each link opens,
    and closes, connections of its own.
    """

    def link(channels: Sequence[str], heartbeat_key: str, on_message: MessageSink) -> ProducerLink:
        return ProducerSubscription(
            redis,
            channels,
            heartbeat_key,
            on_message,
            config=config,
            log_limiter=LogLimiter(config.log_interval_s, time.time_ns),
            jitter_rng=jitter_rng,
        )

    return link
