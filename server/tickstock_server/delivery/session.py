"""One event stream from subscription to end: snapshot, replay of missed events, then live batches.

The servicer maps each message to protobuf. Ordering guarantees: the subscriber is registered in the same
event-loop step as `start_seq` is read, so every entry after `start_seq` reaches its queue, and the replay
covers exactly `resume.seq < seq <= start_seq`: no hole and no duplicate between replay and live.

Replay is bounded: one resume reads at most `max_replay_events` entries (the newest before `start_seq`;
the older part of the range is a `Gap` with `GapReason.REPLAY_LIMIT`), and every chunk it reads is paid
for from the user's replay budget, a token bucket shared by the user's streams, which also yields to the
event loop between chunks: a replay never monopolises the loop, and one user's replays cannot starve
other users' calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import (
    DeliveryOptions,
    Dropped,
    Ended,
    EndReason,
    Heartbeat,
    Subscriber,
    SubscriptionHub,
)
from tickstock_server.delivery.replay import Gap, GapCounter, GapReason, replay
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.domain.snapshot import SymbolSnapshot
from tickstock_server.errors import (
    DependencyUnavailableError,
    FieldViolation,
    InvalidRequestError,
    SubscriberOverloadedError,
)
from tickstock_server.ports.events import EventHistory, LogPoint, SnapshotSource, SnapshotView
from tickstock_server.support.token_bucket import UserTokenBuckets

SNAPSHOT_CHUNK = 500
"""Symbols per snapshot message."""


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """A client's resume token: the log epoch and the last seq it received."""

    epoch: str
    seq: int


@dataclass(frozen=True, slots=True)
class Started:
    """First message: the registered subscription and where live events start."""

    subscriber: Subscriber
    start_seq: int
    replaying: bool


@dataclass(frozen=True, slots=True)
class Batch:
    """Entries the filter selected, in seq order."""

    entries: list[LogEntry]


@dataclass(frozen=True, slots=True)
class ReplayDone:
    """The replay of missed events is complete; `seq` is the position after it."""

    count: int
    seq: int


@dataclass(frozen=True, slots=True)
class SnapshotPart:
    """Part of the per-symbol state as of `as_of_seq`."""

    symbols: list[SymbolSnapshot]
    as_of_seq: int
    last: bool


@dataclass(frozen=True, slots=True)
class Idle:
    """Nothing to send for a heartbeat interval; `position` is a valid resume point."""

    position: int
    queue_depth: int


@dataclass(frozen=True, slots=True)
class Rotate:
    """The server ends the stream on purpose; resume from `position`."""

    reason: EndReason
    position: int


StreamMessage = Started | Batch | Gap | ReplayDone | SnapshotPart | Dropped | Idle | Rotate


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSources:
    """What a stream reads from, shared by every stream of the server."""

    hub: SubscriptionHub
    log: EventLog
    history: EventHistory | None
    """The persisted log (None: memory only)."""
    snapshots: SnapshotSource | None
    """Detector state for snapshots (None: snapshots are empty)."""
    max_age_s: float | None
    """Streams older than this (jittered down by up to 10 %) get a rotation hint; None never."""
    follow_wait_s: float = 0.0
    """How long a stream waits for this server's log to reach a position another server already
    reached (a resume token or a snapshot from ahead of it); 0 where the log is written here."""
    max_replay_events: int
    """Most log entries one stream replays: the newest before its start; the older part is a gap."""
    replay_budget: UserTokenBuckets
    """Log entries each user's replays may read, shared by the user's streams."""
    stall_timeout_s: float
    """How long a message may wait for its client to read it (see `delivery/stall_guard.py`)."""
    gaps: GapCounter = field(default_factory=GapCounter)
    """Counts the gap notices the streams send."""


async def stream_events(
    sources: StreamSources,
    *,
    user: str,
    event_filter: EventFilter,
    options: DeliveryOptions,
    resume: ResumePoint | None,
    include_snapshot: bool,
) -> AsyncGenerator[StreamMessage, None]:
    """Run one subscription; see the module docstring for the order of messages.

    Raises:
        InvalidRequestError: The resume token is ahead of the log.
        LimitExceededError: The user holds the maximum number of streams.
        SubscriberOverloadedError: The client read too slowly (DISCONNECT policy), after a final `Dropped`.
        DependencyUnavailableError: Replay needed the event store and it is unreachable.
    """
    log, hub = sources.log, sources.hub
    if resume is not None and resume.epoch == log.epoch and resume.seq > log.last_seq:
        # Another gateway may be a little ahead of this one: wait for this log to get there.
        with contextlib.suppress(DependencyUnavailableError):
            await _reach(log, LogPoint(resume.epoch, resume.seq), timeout_s=sources.follow_wait_s)
    if resume is not None and resume.epoch == log.epoch and resume.seq > log.last_seq:
        raise InvalidRequestError(
            [FieldViolation("resume_token.seq", f"is ahead of the event log (last seq {log.last_seq})")]
        )
    view = await _snapshot(sources, event_filter) if include_snapshot else None
    subscriber = hub.subscribe(user, event_filter, options)
    start_seq = log.last_seq
    epoch = log.epoch
    timer = _rotation_timer(subscriber, sources.max_age_s)
    try:
        yield Started(subscriber, start_seq, resume is not None)
        as_of_seq = start_seq
        if view is not None:
            as_of_seq = start_seq if view.as_of is None else view.as_of.seq
            for index in range(0, max(len(view.symbols), 1), SNAPSHOT_CHUNK):
                part = view.symbols[index : index + SNAPSHOT_CHUNK]
                yield SnapshotPart(part, as_of_seq, index + SNAPSHOT_CHUNK >= len(view.symbols))
        position = start_seq
        if resume is not None:
            after = resume.seq
            if resume.epoch != epoch:
                # The client's log is gone: everything of this one is new to it.
                yield sources.gaps.counted(Gap(0, 0, GapReason.EPOCH_CHANGED))
                after = log.first_seq - 1 if sources.history is None else 0
            replayed = 0
            async for item in _replay(sources, user, event_filter, options, after, start_seq):
                yield item
                replayed += len(item.entries) if isinstance(item, Batch) else 0
            if log.epoch != epoch:
                yield Rotate(EndReason.LOG_RESTARTED, start_seq)
                return
            yield ReplayDone(replayed, start_seq)
        elif view is not None and as_of_seq < start_seq:
            # A snapshot the ingest took before this gateway's position: the events it does not reflect.
            async for item in _replay(
                sources, user, event_filter, options, as_of_seq, start_seq, reflected=view.reflects
            ):
                yield item
        while True:
            delivery = await subscriber.receive()
            if isinstance(delivery, list):
                position = delivery[-1].seq
                yield Batch(delivery)
            elif isinstance(delivery, Heartbeat):
                # The queue is empty: every selected entry up to the log's end has been sent.
                yield Idle(max(position, log.last_seq), subscriber.queue_depth)
            elif isinstance(delivery, Dropped):
                yield delivery
            else:
                yield from_end(delivery, position, subscriber)
                return
    finally:
        if timer is not None:
            timer.cancel()
        hub.unsubscribe(subscriber)


def from_end(ended: Ended, position: int, subscriber: Subscriber) -> Rotate:
    """The rotation hint for a planned end, or raise for an overflow."""
    if ended.reason is EndReason.OVERLOADED:
        raise SubscriberOverloadedError(
            f"the client read too slowly and its queue of {subscriber.capacity} events overflowed; "
            f"resume after seq {position}"
        )
    # Planned ends deliver the queue first, so everything offered before the end has been sent. Entries
    # the log took after the end were never offered to this subscriber: the resume point stops before
    # them (the log's end would skip them, silently).
    return Rotate(ended.reason, max(position, ended.offered_seq))


async def _replay(
    sources: StreamSources,
    user: str,
    event_filter: EventFilter,
    options: DeliveryOptions,
    after: int,
    until: int,
    reflected: Callable[[int, str], bool] | None = None,
) -> AsyncIterator[Batch | Gap]:
    """The selected entries `after < seq <= until` in batches, and gaps; stops if the log restarts.

    Reads at most `max_replay_events` entries, paced by the user's replay budget (module docstring).
    Entries a snapshot already `reflected` (by seq and symbol) are left out.
    """
    log = sources.log
    epoch = log.epoch
    oldest_replayed = until - sources.max_replay_events
    if after < oldest_replayed:
        # A made-up epoch or seq must not buy a replay of the whole stored history: the part beyond the
        # limit is reported, with its own reason, and never read.
        yield sources.gaps.counted(Gap(after + 1, oldest_replayed, GapReason.REPLAY_LIMIT))
        after = oldest_replayed
    async for item in replay(log, sources.history, after, until):
        if log.epoch != epoch:
            return  # what was read may belong to the new epoch: the caller rotates the stream
        if isinstance(item, Gap):
            yield sources.gaps.counted(item)
            continue
        await sources.replay_budget.spend(user, len(item))
        selected = [
            entry
            for entry in item
            if event_filter.matches(entry.fields)
            and (reflected is None or not reflected(entry.seq, entry.fields.symbol))
        ]
        for index in range(0, len(selected), options.max_batch_size):
            yield Batch(selected[index : index + options.max_batch_size])


async def _snapshot(sources: StreamSources, event_filter: EventFilter) -> SnapshotView:
    """The snapshot, once this server's log has reached the position it reflects."""
    if sources.snapshots is None:
        return SnapshotView([], None)
    view = await sources.snapshots.snapshot(event_filter.symbols or None)
    if view.as_of is not None:
        # With several shards, the log must reach the newest part: replay starts at the oldest.
        newest = LogPoint(view.as_of.epoch, max(view.shard_seqs, default=view.as_of.seq))
        await _reach(sources.log, newest, timeout_s=max(sources.follow_wait_s, 1.0))
    return view


async def _reach(log: EventLog, point: LogPoint, *, timeout_s: float = 5.0, poll_s: float = 0.005) -> None:
    """Wait until `log` is at or past `point`.

    Raises:
        DependencyUnavailableError: The log did not get there within `timeout_s`.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while log.epoch != point.epoch or log.last_seq < point.seq:
        if loop.time() >= deadline:
            raise DependencyUnavailableError(
                "this server is behind the event stream: the snapshot is not available yet; retry"
            )
        await asyncio.sleep(poll_s)


def _rotation_timer(subscriber: Subscriber, max_age_s: float | None) -> asyncio.TimerHandle | None:
    if max_age_s is None:
        return None
    # Jitter spreads the reconnects of streams that started together.
    delay_s = max_age_s * (0.9 + 0.1 * random.random())
    return asyncio.get_running_loop().call_later(delay_s, subscriber.end, EndReason.MAX_AGE)
