"""Live Massive WebSocket feed through the official `massive` client: raw frames to ticks, reconnecting."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from massive.exceptions import AuthError  # type: ignore[import-untyped]
from massive.websocket import Market, WebSocketClient  # type: ignore[import-untyped]
from websockets.exceptions import WebSocketException

from tickstock_server.domain.tick import Tick
from tickstock_server.errors import FeedAuthenticationError
from tickstock_server.feeds.massive_frames import MassiveFrameParser
from tickstock_server.feeds.recording import FrameRecorder
from tickstock_server.support.backoff import Backoff

__all__ = ["MassiveTickSource"]

_logger = logging.getLogger(__name__)

# websockets logs every frame at DEBUG, the auth message with the API key among them. Our connections
# log through this logger, capped at INFO so the key cannot reach the logs whatever the root level.
_websocket_logger = logging.getLogger(__name__ + ".websocket")
_websocket_logger.setLevel(logging.INFO)

# massive attaches its own plain-text stdout handler to "WebSocketClient" at import; our JSON handler
# on the root logger already shows its records, so the duplicate goes.
logging.getLogger("WebSocketClient").handlers.clear()

# What ends a session and is retried: the connection dropping (ConnectionClosedError and the other
# WebSocketExceptions, OSError) and a malformed handshake reply from the server (the massive client
# indexes it without checks: ValueError from json, LookupError, TypeError, AttributeError).
_RETRYABLE_ERRORS = (WebSocketException, OSError, ValueError, LookupError, TypeError, AttributeError)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Stopped:
    """Queue item: the connection loop failed with `error`, which the consumer raises."""

    error: Exception


class MassiveTickSource:
    """`TickSource` over the Massive WebSocket feed, running the official client in raw mode.

    The massive client performs the handshake (auth, subscribe) and hands every later frame, status
    frames included, to us as raw text; `MassiveFrameParser` turns it into ticks, so a recording
    replays to exactly the ticks the live feed produced. Each frame with at least one valid event is
    one yielded batch, every tick stamped with the wall-clock arrival time of its frame.

    Connection handling:

    - A rejected API key (massive `AuthError`) is fatal: `ticks()` raises `FeedAuthenticationError`.
    - Any other end of a connection (dropped, closed by the server, malformed handshake reply) is
      retried indefinitely: after `reconnect_initial_s`, doubling up to `reconnect_max_s`, with
      optional jitter; a new client connects and subscribes again. The delay goes back to
      `reconnect_initial_s` once a connection succeeds (its first frame after the handshake, which is
      the server's subscription confirmation).
    - Failures to *open* a connection (refused, DNS, TLS, HTTP error) are retried inside the massive
      client, which hands them to websockets' own reconnect loop (delays up to 90 s, logged at INFO on
      the `tickstock_server.feeds.massive.websocket` logger); they are not counted in `reconnects`.

    Backpressure: the client awaits the frame callback before reading the next frame, and the
    callback puts each batch into a bounded queue of `queue_frames` batches. When the consumer falls
    behind and the queue is full, the callback waits, the client stops reading, and TCP pushes back on
    the server; nothing is dropped here. If the stall lasts, the connection fails its keepalive or the
    server drops the slow consumer, and the source reconnects (data of the gap is lost upstream).

    Counters (`frames_received`, `ticks_parsed`, `rejected`, `statuses`, `reconnects`) accumulate over
    the life of the source. Iterate `ticks()` once at a time; each iteration opens its own connection.
    """

    def __init__(
        self,
        api_key: str,
        *,
        host: str = "socket.massive.com",
        secure: bool = True,
        market: str = "stocks",
        subscriptions: Sequence[str] = ("A.*",),
        record_path: Path | None = None,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 60.0,
        clock_ns: Callable[[], int] = time.time_ns,
        jitter_rng: random.Random | None = None,
        queue_frames: int = 256,
    ) -> None:
        """Create the source; nothing connects until `ticks()` is iterated.

        Args:
            api_key: Massive API key. Never logged.
            host: Feed host, optionally with ":port" (e.g. "delayed.massive.com", "127.0.0.1:8765").
            secure: Use wss (TLS) rather than ws.
            market: Massive market path, e.g. "stocks". Only stocks-style A/AM/T/Q events become ticks.
            subscriptions: Channels, e.g. ("A.*",) or ("A.AAPL", "T.AAPL").
            record_path: Append every raw frame received after the handshake to this JSON-lines file.
            reconnect_initial_s: First reconnect delay after a lost connection, seconds, > 0.
            reconnect_max_s: Longest reconnect delay, seconds, >= reconnect_initial_s.
            clock_ns: Wall clock for the ticks' `received_ns`, UTC epoch nanoseconds.
            jitter_rng: Random source for reconnect jitter (each delay becomes a random value between
                half and all of it); None disables jitter.
            queue_frames: Capacity of the queue between the WebSocket reader and the consumer, in
                batches (frames), >= 1.

        Raises:
            ValueError: An argument is out of range (empty key or subscriptions, unknown market).
        """
        if not api_key:
            raise ValueError("api_key must not be empty")
        if not subscriptions:
            raise ValueError("subscriptions must not be empty")
        if not 0 < reconnect_initial_s <= reconnect_max_s:
            raise ValueError("need 0 < reconnect_initial_s <= reconnect_max_s")
        if queue_frames < 1:
            raise ValueError("queue_frames must be >= 1")
        self._market = Market(market)  # raises ValueError for an unknown market
        self._api_key = api_key
        self._host = host
        self._secure = secure
        self._subscriptions = tuple(subscriptions)
        self._record_path = record_path
        self._reconnect_initial_s = reconnect_initial_s
        self._reconnect_max_s = reconnect_max_s
        self._clock_ns = clock_ns
        self._jitter_rng = jitter_rng
        self._queue_frames = queue_frames
        self._parser = MassiveFrameParser()
        self._recorder: FrameRecorder | None = None
        self.url = f"ws{'s' if secure else ''}://{host}/{self._market.value}"
        """The feed's WebSocket URL (no credentials in it)."""
        self.frames_received = 0
        """Frames received after the handshake, status frames included."""
        self.reconnects = 0
        """Reconnects after a lost connection."""

    @property
    def ticks_parsed(self) -> int:
        """Ticks produced from the frames received."""
        return self._parser.ticks_parsed

    @property
    def rejected(self) -> Mapping[str, int]:
        """Skipped frames and events by reason (see `RejectReason`)."""
        return self._parser.rejected

    @property
    def statuses(self) -> Mapping[str, int]:
        """Status events received after the handshake, by status value."""
        return self._parser.statuses

    async def ticks(self) -> AsyncIterator[list[Tick]]:
        """Yield one batch per frame until cancelled; runs the connection in a task it owns.

        Cancelling the consuming task, or closing the iterator (`contextlib.aclosing`), cancels that
        task, which closes the WebSocket and the recording before this returns.

        Raises:
            FeedAuthenticationError: Massive rejected the API key.
            OSError: The recording file cannot be opened.
        """
        queue: asyncio.Queue[list[Tick] | _Stopped] = asyncio.Queue(maxsize=self._queue_frames)
        pump = asyncio.create_task(self._pump(queue), name="massive-feed")
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Stopped):
                    raise item.error
                yield item
        finally:
            pump.cancel()
            # asyncio.wait neither raises the task's CancelledError nor swallows our own cancellation.
            await asyncio.wait((pump,))

    async def _pump(self, queue: asyncio.Queue[list[Tick] | _Stopped]) -> None:
        try:
            await self._run(queue)
        except Exception as exc:  # handed to the consumer, which raises it: nothing is swallowed
            await queue.put(_Stopped(error=exc))

    async def _run(self, queue: asyncio.Queue[list[Tick] | _Stopped]) -> None:
        recorder = FrameRecorder(self._record_path) if self._record_path is not None else None
        self._recorder = recorder
        try:
            backoff = Backoff(self._reconnect_initial_s, self._reconnect_max_s, self._jitter_rng)
            while True:
                if await self._session(queue):
                    backoff.reset()
                delay_s = backoff.next_delay_s()
                self.reconnects += 1
                _logger.warning(
                    "Reconnecting to the Massive feed %s in %.2f s (attempt %d)",
                    self.url,
                    delay_s,
                    backoff.attempt,
                )
                await asyncio.sleep(delay_s)
        finally:
            self._recorder = None
            if recorder is not None:
                try:
                    recorder.close()
                except OSError:
                    _logger.exception("Could not close the frame recording %s", recorder.path)

    async def _session(self, queue: asyncio.Queue[list[Tick] | _Stopped]) -> bool:
        """Run one connection until it ends; return whether it got past the handshake."""
        # max_reconnects=0: the client returns or raises when the connection ends, and this source
        # owns the retry policy (delays, counting, logging) instead of the client's immediate retries.
        client: Any = WebSocketClient(
            api_key=self._api_key,
            feed=self._host,
            market=self._market,
            raw=True,
            subscriptions=list(self._subscriptions),
            max_reconnects=0,
            secure=self._secure,
        )
        established = False

        async def on_frame(frame: str | bytes) -> None:
            nonlocal established
            received_ns = self._clock_ns()
            if not established:
                established = True
                _logger.info(
                    "Connected to the Massive feed %s, subscribed to %s",
                    self.url,
                    ",".join(self._subscriptions),
                )
            self.frames_received += 1
            if self._recorder is not None:
                try:
                    self._recorder.append(frame)
                except OSError:
                    # The live feed matters more than its recording: stop recording, keep streaming.
                    _logger.exception("Recording to %s failed; recording stopped", self._recorder.path)
                    self._recorder = None
            ticks = self._parser.parse(frame, received_ns)
            if ticks:
                await queue.put(ticks)

        try:
            await client.connect(on_frame, logger=_websocket_logger)
            _logger.info("The Massive server closed the feed connection %s", self.url)
        except AuthError as exc:
            raise FeedAuthenticationError(f"Massive rejected the API key: {exc}") from exc
        except _RETRYABLE_ERRORS as exc:
            _logger.info("Lost the Massive feed connection %s: %s: %s", self.url, type(exc).__name__, exc)
        finally:
            await _close(client)
        return established


async def _close(client: Any) -> None:
    """Close the client's WebSocket, if it opened one (the client leaves it open when it raises)."""
    websocket = client.websocket
    if websocket is not None:
        client.websocket = None
        await websocket.close()
