"""`RevocationWatch`: ends the open streams of revoked keys and evicts them from the key cache.

Replicas share only PostgreSQL, so every process finds out by itself: every `interval_s` (2 s) it asks
the store, in one query, which of the key ids it currently depends on (those with an open stream, and
those in its `KeyCache`) are revoked. It then evicts them from the cache (new calls are refused) and
ends each of their streams with UNAUTHENTICATED: the status is sent to the client, and the handler's
task is cancelled so that its subscription and per-user quota are released. With the query's latency,
a stream of a revoked key, or of a session token made from it, ends within 5 s of the revocation.

The registry holds one entry per open authenticated stream, so it is bounded by the per-user stream
limits. While the store is unreachable the checks fail (logged, counted) and resume when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from tickstock_server.api.interceptors import Context
from tickstock_server.api.key_cache import KeyCache
from tickstock_server.api.stream_ending import end_stream
from tickstock_server.errors import DependencyUnavailableError, UnauthenticatedError
from tickstock_server.ports.auth import ApiKeyStore
from tickstock_server.support.metric_samples import MetricSample, counter, gauge

_logger = logging.getLogger(__name__)

CHECK_INTERVAL_S = 2.0
"""Seconds between two checks of the store; the bound on ending a revoked key's streams is 5 s."""


@dataclass(eq=False, slots=True)
class _Stream:
    task: asyncio.Task[object]
    context: Context


class RevocationWatch:
    """Knows the open streams of each key id and ends those of revoked keys (see the module docstring)."""

    def __init__(self, store: ApiKeyStore, keys: KeyCache, *, interval_s: float = CHECK_INTERVAL_S) -> None:
        """Check `store` every `interval_s` seconds about the streams registered here and `keys`' entries."""
        self._store = store
        self._keys = keys
        self._interval_s = interval_s
        self._streams: dict[str, set[_Stream]] = {}
        self.revoked_streams_total = 0
        """Streams ended because their key was revoked."""
        self.failed_checks_total = 0
        """Checks that could not reach the store."""

    @property
    def watched_streams(self) -> int:
        """Streams registered now."""
        return sum(len(streams) for streams in self._streams.values())

    @contextlib.contextmanager
    def watching(self, key_id: str, context: Context) -> Iterator[None]:
        """Register the current task's stream, authenticated by key `key_id`, for the duration of the block.

        The stream must run in the task that serves the call (as grpc.aio runs handlers): ending it
        cancels that task.
        """
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("streams are watched from the task that serves them")
        stream = _Stream(task, context)
        streams = self._streams.setdefault(key_id, set())
        streams.add(stream)
        try:
            yield
        finally:
            streams.discard(stream)
            if not streams and self._streams.get(key_id) is streams:
                del self._streams[key_id]

    async def run(self) -> None:
        """Check every `interval_s` until cancelled."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except DependencyUnavailableError as exc:
                self.failed_checks_total += 1
                _logger.warning("cannot check for revoked API keys: %s", exc)

    async def check(self) -> None:
        """Ask the store once about every key id in use here; evict and end the revoked ones.

        Raises:
            DependencyUnavailableError: The store is unreachable; nothing changed.
        """
        key_ids = self._streams.keys() | self._keys.cached_key_ids()
        if not key_ids:
            return
        revoked = await self._store.revoked(sorted(key_ids))
        if not revoked:
            return
        self._keys.evict(revoked)
        ending = [stream for key_id in revoked for stream in self._streams.pop(key_id, ())]
        if ending:
            _logger.info(
                "ending %d streams of revoked API keys", len(ending), extra={"key_ids": sorted(revoked)}
            )
            self.revoked_streams_total += len(ending)
            # Sending a status may wait for a client that reads nothing: the ends run side by side, and a
            # round never outlasts the interval (a status not sent by then is still on its way).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval_s):
                    await asyncio.gather(*(_end(stream) for stream in ending))

    def metric_samples(self) -> list[MetricSample]:
        """Streams watched now, those ended by revocations, and failed checks."""
        return [
            gauge(
                "tickstock_watched_streams",
                "Open authenticated streams, checked for revoked keys.",
                self.watched_streams,
            ),
            counter(
                "tickstock_streams_revoked",
                "Streams ended UNAUTHENTICATED because their API key was revoked.",
                self.revoked_streams_total,
            ),
            counter(
                "tickstock_revocation_check_failures",
                "Checks for revoked API keys that could not reach PostgreSQL.",
                self.failed_checks_total,
            ),
        ]


async def _end(stream: _Stream) -> None:
    revoked = UnauthenticatedError("the API key of this stream was revoked")
    await end_stream(stream.task, stream.context, revoked)
