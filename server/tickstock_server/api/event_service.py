"""EventService servicer: parses requests, runs the delivery session, maps its messages. No business rules."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from tickstock.v1 import event_service_pb2
from tickstock_server.api.auth import current_principal
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers import event_service as out
from tickstock_server.api.mappers._common import duration_from_ns
from tickstock_server.api.mappers.event_service import check_preset_name, parse_filter, parse_stream_request
from tickstock_server.api.stall_sweeper import StallSweeper
from tickstock_server.delivery.hub import Dropped
from tickstock_server.delivery.replay import Gap
from tickstock_server.delivery.resolve import resolve_filter
from tickstock_server.delivery.session import (
    Batch,
    Idle,
    ReplayDone,
    SnapshotPart,
    Started,
    StreamMessage,
    StreamSources,
    stream_events,
)
from tickstock_server.delivery.stall_guard import StallGuard
from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.ports.presets import FilterPresetStore
from tickstock_server.ports.universes import UniverseResolver, WatchlistReader
from tickstock_server.support.time_units import NS_PER_S

_SWEEP_INTERVAL_S = 1.0
"""How often stalled streams are looked for: a stalled stream ends within its stall timeout plus this."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamLimits:
    """Per-caller limits, echoed in every SubscriptionStatus."""

    max_symbols: int
    max_streams: int


class EventServiceServicer:
    """Serves `tickstock.v1.EventService`. Responses of StreamEvents may be pre-serialised bytes.

    StreamEvents stamps each message's deadline before yielding it (`delivery/stall_guard.py`), and one
    `StallSweeper` ends the streams whose client stopped taking them: gRPC would otherwise wait on such
    a client for as long as it stays connected.
    """

    def __init__(
        self,
        *,
        sources: StreamSources,
        limits: StreamLimits,
        universes: UniverseResolver,
        watchlists: WatchlistReader,
        presets: FilterPresetStore,
        feed_age_ns: Callable[[], int],
        shutdown_grace_s: float,
    ) -> None:
        self._sources = sources
        self._limits = limits
        self._universes = universes
        self._watchlists = watchlists
        self._presets = presets
        self._feed_age_ns = feed_age_ns
        self._shutdown_grace_ns = round(shutdown_grace_s * NS_PER_S)
        self.stalls = StallSweeper(interval_s=min(_SWEEP_INTERVAL_S, sources.stall_timeout_s / 5))

    async def StreamEvents(  # noqa: N802 - gRPC method name
        self, request: event_service_pb2.StreamEventsRequest, context: Context
    ) -> AsyncIterator[Any]:
        """Stream the filtered events: status, snapshot, replay, then live batches and idle heartbeats."""
        parsed = parse_stream_request(request)
        user = current_principal().user
        spec = parsed.spec
        if parsed.preset_name:
            spec = spec.over((await self._presets.get(user, parsed.preset_name)).spec)
        event_filter = await resolve_filter(
            spec,
            user=user,
            universes=self._universes,
            watchlists=self._watchlists,
            max_symbols=self._limits.max_symbols,
        )
        epoch = self._sources.log.epoch
        guard = StallGuard(self._sources.stall_timeout_s)
        session = stream_events(
            self._sources,
            user=user,
            event_filter=event_filter,
            options=parsed.options,
            resume=parsed.resume,
            include_snapshot=parsed.include_snapshot,
        )
        with self.stalls.watching(guard, context):
            try:
                async with contextlib.aclosing(session) as messages:
                    async for message in messages:
                        if isinstance(message, Started):
                            guard.watch(message.subscriber)
                        response = self._response(message, user, epoch)
                        guard.writing()
                        yield response  # gRPC writes it; the generator resumes once the client took it
                        guard.written()
            finally:
                guard.release()

    def _response(self, message: StreamMessage, user: str, epoch: str) -> Any:
        """The message as a response (pre-serialised bytes for a batch)."""
        if isinstance(message, Batch):
            entries = message.entries
            return out.batch_response([entry.encoded for entry in entries], epoch, entries[-1].seq)
        if isinstance(message, Idle):
            return out.heartbeat_response(message.position, self._feed_age_ns(), message.queue_depth)
        if isinstance(message, Started):
            return self._status(message, user)
        if isinstance(message, Gap):
            return out.gap_response(message)
        if isinstance(message, Dropped):
            return out.dropped_response(message)
        if isinstance(message, ReplayDone):
            return out.Response(
                replay_completed=event_service_pb2.ReplayCompleted(
                    replayed_count=message.count, resume_token=out.token(epoch, message.seq)
                )
            )
        if isinstance(message, SnapshotPart):
            return out.snapshot_response(message.symbols, epoch, message.as_of_seq, message.last)
        deadline_ns = time.time_ns() + self._shutdown_grace_ns
        return out.rotate_response(message.reason, epoch, message.position, deadline_ns)

    async def SaveFilterPreset(  # noqa: N802 - gRPC method name
        self, request: event_service_pb2.SaveFilterPresetRequest, context: Context
    ) -> event_service_pb2.SaveFilterPresetResponse:
        """Create or replace a preset after checking its filter resolves."""
        violations: list[FieldViolation] = []
        check_preset_name(request.preset.name, "preset.name", violations)
        spec = parse_filter(request.preset.filter, "preset.filter", violations)
        if violations:
            raise InvalidRequestError(violations)
        user = current_principal().user
        try:
            await resolve_filter(
                spec,
                user=user,
                universes=self._universes,
                watchlists=self._watchlists,
                max_symbols=self._limits.max_symbols,
            )
        except InvalidRequestError as exc:
            raise InvalidRequestError(
                [FieldViolation(f"preset.{v.field}", v.description) for v in exc.violations]
            ) from exc
        stored = await self._presets.save(user, request.preset.name, spec)
        return event_service_pb2.SaveFilterPresetResponse(preset=out.preset_to_proto(stored))

    async def ListFilterPresets(  # noqa: N802 - gRPC method name
        self, request: event_service_pb2.ListFilterPresetsRequest, context: Context
    ) -> event_service_pb2.ListFilterPresetsResponse:
        """The caller's presets, sorted by name."""
        presets = await self._presets.list(current_principal().user)
        return event_service_pb2.ListFilterPresetsResponse(presets=[out.preset_to_proto(p) for p in presets])

    async def DeleteFilterPreset(  # noqa: N802 - gRPC method name
        self, request: event_service_pb2.DeleteFilterPresetRequest, context: Context
    ) -> event_service_pb2.DeleteFilterPresetResponse:
        """Delete one of the caller's presets."""
        violations: list[FieldViolation] = []
        check_preset_name(request.name, "name", violations)
        if violations:
            raise InvalidRequestError(violations)
        await self._presets.delete(current_principal().user, request.name)
        return event_service_pb2.DeleteFilterPresetResponse()

    def _status(self, started: Started, user: str) -> event_service_pb2.StreamEventsResponse:
        subscriber = started.subscriber
        sources = self._sources
        symbols = subscriber.filter.symbols
        return out.Response(
            subscription_status=event_service_pb2.SubscriptionStatus(
                subscription_id=subscriber.subscription_id,
                symbols=sorted(symbols),
                all_symbols=not symbols,
                delivery=out.delivery_to_proto(subscriber.options),
                limits=event_service_pb2.SubscriptionLimits(
                    max_symbols_per_subscription=self._limits.max_symbols,
                    max_streams_per_user=self._limits.max_streams,
                    open_streams=sources.hub.open_streams(user),
                    queue_capacity=subscriber.capacity,
                    max_replay_events=sources.max_replay_events,
                    replay_events_per_second=round(sources.replay_budget.rate_per_s),
                    replay_burst_events=sources.replay_budget.burst,
                    stall_timeout=duration_from_ns(round(sources.stall_timeout_s * NS_PER_S)),
                ),
                start=out.token(sources.log.epoch, started.start_seq),
                replaying=started.replaying,
            )
        )
