"""The resumable event stream, and the reopening of streams without positions.

`EventStream` follows the protocol of `tickstock.v1.EventService.StreamEvents`: it keeps the position of
the last event it handed out (or the one a heartbeat or rotation hint names) and, whenever the stream
ends or breaks, opens a new one from that position. The server then replays exactly what was missed,
reports what it cannot replay as a gap, and continues live, so the caller sees every event once, in
order. `reopening` serves the streams without positions (patterns, alerts, a backtest's states): it
opens them again, and what passed meanwhile is not replayed.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from google.protobuf import duration_pb2

from tickstock.v1 import event_service_pb2
from tickstock_client._errors import error_from_rpc
from tickstock_client._models import EventFilter, ReplayCompleted, ResumeToken, StreamItem
from tickstock_client._proto import (
    dropped_from_proto,
    event_filter_to_proto,
    event_from_proto,
    gap_from_proto,
    resume_token_from_proto,
    resume_token_to_proto,
)

__all__ = ["RETRYABLE_CODES", "Backoff", "EventStream", "reopening"]

_logger = logging.getLogger(__name__)
_R = TypeVar("_R")

_Call = grpc.aio.UnaryStreamCall[
    event_service_pb2.StreamEventsRequest, event_service_pb2.StreamEventsResponse
]

# Retried by reconnecting: the server is restarting, unreachable, or the connection broke. Other codes
# (a bad filter, a revoked key, a per-user limit) raise: reconnecting would fail the same way.
RETRYABLE_CODES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,  # a server shutting down cancels its streams
        grpc.StatusCode.UNKNOWN,  # a connection dropped mid-stream by a proxy
        grpc.StatusCode.INTERNAL,  # an HTTP/2 stream reset (RST_STREAM) reads as INTERNAL
    }
)


class Backoff:
    """Exponential backoff with full jitter: delays from `first` doubling up to `limit`."""

    def __init__(
        self, first: timedelta = timedelta(milliseconds=250), limit: timedelta = timedelta(seconds=10)
    ):
        self._first = first.total_seconds()
        self._limit = limit.total_seconds()
        self._next = self._first

    def reset(self) -> None:
        """Start again from the first delay (after a stream delivered something)."""
        self._next = self._first

    def delay_s(self) -> float:
        """The next delay, in seconds: random in [0, current bound], the bound then doubles."""
        bound = self._next
        self._next = min(self._next * 2, self._limit)
        return random.uniform(0, bound)


async def reopening(
    open_call: Callable[[], grpc.aio.UnaryStreamCall[Any, _R]],
    *,
    stall: timedelta | None,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncGenerator[_R, None]:
    """Every response of a server stream, opening it again whenever it breaks.

    A new call is opened at once after the server ends the stream or after a stall (no response within
    `stall`; None never stalls), and after a backoff delay on a retryable failure (`RETRYABLE_CODES`) or
    when the call ended without a single response.
    Other failures raise their `TickstockError`. The consumer ends it by closing the generator.

    Args:
        open_call: Opens the call; the same request each time, for streams without positions.
        stall: How long a live stream may stay silent (twice its heartbeat interval).
        what: Names the stream in log messages.
        sleep: Waits out a backoff delay (tests pass a fake).
    """
    backoff = Backoff()
    stall_s = stall.total_seconds() if stall is not None else None
    while True:
        call = open_call()
        responses = aiter(call)
        answered = False
        try:
            while True:
                async with asyncio.timeout(stall_s):
                    response = await anext(responses)
                backoff.reset()
                answered = True
                yield response
        except StopAsyncIteration:
            _logger.info("%s ended by the server; reopening", what)
        except TimeoutError:
            _logger.info("%s stalled for %s; reopening", what, stall)
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRYABLE_CODES:
                raise error_from_rpc(exc) from None
            _logger.info("%s interrupted (%s: %s); reopening", what, exc.code().name, exc.details())
            answered = False
        finally:
            call.cancel()
        if not answered:  # failed, or ended before a single response: never reopen in a tight loop
            await sleep(backoff.delay_s())


class _StalledError(Exception):
    """Neither data nor a heartbeat arrived for twice the heartbeat interval."""


class EventStream:
    """`async for item in stream`: events and notices, across reconnects.

    The iteration ends with `close()`, or raises a `TickstockError` that reconnecting cannot cure (a bad
    filter, a revoked key, a per-user limit).
    """

    def __init__(
        self,
        open_call: Callable[[event_service_pb2.StreamEventsRequest], _Call],
        event_filter: EventFilter | None = None,
        *,
        preset_name: str = "",
        resume_token: ResumeToken | None = None,
        heartbeat_interval: timedelta = timedelta(seconds=5),
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._open_call = open_call
        self._filter = event_filter_to_proto(event_filter) if event_filter is not None else None
        self._preset_name = preset_name
        self._token = resume_token
        self._heartbeat = heartbeat_interval
        self._backoff = backoff or Backoff()
        self._sleep = sleep
        self._call: _Call | None = None
        self._closed = False
        self._answered = False
        self._connected = False
        self.reconnects = 0
        """How many times the stream was opened again."""

    @property
    def resume_token(self) -> ResumeToken | None:
        """Where the stream stands: persist it to continue after your program restarts."""
        return self._token

    @property
    def connected(self) -> bool:
        """Whether the server has answered the current call: False while connecting or reconnecting."""
        return self._connected

    def close(self) -> None:
        """End the iteration (the current call is cancelled)."""
        self._closed = True
        self._connected = False
        if self._call is not None:
            self._call.cancel()

    def __aiter__(self) -> AsyncIterator[StreamItem]:
        return self._items()

    def _request(self) -> event_service_pb2.StreamEventsRequest:
        interval = duration_pb2.Duration()
        interval.FromTimedelta(self._heartbeat)
        return event_service_pb2.StreamEventsRequest(
            filter=self._filter,
            preset_name=self._preset_name,
            resume_token=resume_token_to_proto(self._token) if self._token is not None else None,
            delivery=event_service_pb2.DeliveryOptions(heartbeat_interval=interval),
        )

    async def _items(self) -> AsyncIterator[StreamItem]:
        while not self._closed:
            call = self._call = self._open_call(self._request())
            self._answered = False
            wait = False
            try:
                async for item in self._read(call):
                    yield item
                # The server ended the stream (after a rotation hint, or shutting down): go on at once,
                # unless it ended before it even answered (then something in between is refusing).
                wait = not self._answered
            except grpc.aio.AioRpcError as exc:
                if self._closed:
                    return
                if exc.code() not in RETRYABLE_CODES:
                    raise error_from_rpc(exc) from None
                _logger.info("event stream interrupted (%s: %s); resuming", exc.code().name, exc.details())
                wait = True
            except _StalledError:
                _logger.info("event stream stalled for %s; resuming", 2 * self._heartbeat)
                wait = not self._answered
            finally:
                self._connected = False
                call.cancel()
            if wait and not self._closed:
                await self._sleep(self._backoff.delay_s())
            if not self._closed:
                self.reconnects += 1

    async def _read(self, call: _Call) -> AsyncIterator[StreamItem]:
        epoch = self._token.epoch if self._token is not None else ""
        stall_s = 2 * self._heartbeat.total_seconds()
        responses = aiter(call)
        while True:
            try:
                async with asyncio.timeout(stall_s):
                    response = await anext(responses)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise _StalledError from None
            kind = response.WhichOneof("payload")
            if kind == "subscription_status":
                start = response.subscription_status.start
                epoch = start.epoch
                if self._token is None:
                    # A first stream starts live at `start`: resuming from there loses nothing.
                    self._token = resume_token_from_proto(start)
                self._answered = self._connected = True
                self._backoff.reset()
            elif kind == "event_batch":
                batch = response.event_batch
                epoch = batch.resume_token.epoch or epoch
                for message in batch.events:
                    event = event_from_proto(message, epoch)
                    self._token = event.resume_token
                    yield event
                if batch.HasField("resume_token"):
                    self._token = resume_token_from_proto(batch.resume_token)
            elif kind == "heartbeat":
                # Idle: everything this filter selects up to `last_seq` has been sent.
                if epoch and (self._token is None or response.heartbeat.last_seq > self._token.seq):
                    self._token = ResumeToken(epoch=epoch, seq=response.heartbeat.last_seq)
            elif kind == "gap_notice":
                yield gap_from_proto(response.gap_notice)
            elif kind == "drop_notice":
                yield dropped_from_proto(response.drop_notice)
            elif kind == "replay_completed":
                done = response.replay_completed
                if done.HasField("resume_token") and done.resume_token.epoch:
                    self._token = resume_token_from_proto(done.resume_token)
                yield ReplayCompleted(replayed_count=done.replayed_count)
            elif kind == "rotate_hint":
                hint = response.rotate_hint
                if hint.HasField("resume_token") and hint.resume_token.epoch:
                    self._token = resume_token_from_proto(hint.resume_token)
                return
