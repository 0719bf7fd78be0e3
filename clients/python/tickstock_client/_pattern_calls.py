"""The `AsyncClient` methods of PatternService (scan, stats, pattern stream) and of EventService's presets.

The alert methods of PatternService are in `_alert_calls`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from google.protobuf import duration_pb2

from tickstock.v1 import (
    common_pb2,
    event_service_pb2,
    event_service_pb2_grpc,
    pattern_service_pb2,
    pattern_service_pb2_grpc,
)
from tickstock_client._models import EventFilter, FilterPreset, Pattern, PatternFilter, PatternSort
from tickstock_client._pattern_models import PatternStats
from tickstock_client._pattern_proto import pattern_stats_from_proto
from tickstock_client._proto import (
    event_filter_to_proto,
    filter_preset_from_proto,
    pattern_filter_to_proto,
    pattern_from_proto,
    pattern_sort_to_proto,
)
from tickstock_client._streaming import reopening

__all__ = ["PatternCalls"]


class PatternCalls:
    """Mixed into `AsyncClient`, which provides the stubs, the metadata and `_call`."""

    _events: event_service_pb2_grpc.EventServiceAsyncStub
    _patterns: pattern_service_pb2_grpc.PatternServiceAsyncStub
    _metadata: tuple[tuple[str, str], ...]
    _call: Callable[..., Awaitable[Any]]
    _paged: Callable[..., AsyncIterator[Any]]

    async def scan_patterns(
        self,
        pattern_filter: PatternFilter | None = None,
        *,
        sort_by: PatternSort = PatternSort.CONFIDENCE,
        descending: bool = True,
        page_size: int = 100,
    ) -> AsyncIterator[Pattern]:
        """Every cached pattern the filter selects, in the chosen order, page by page."""
        request = pattern_service_pb2.ScanPatternsRequest(
            filter=pattern_filter_to_proto(pattern_filter) if pattern_filter is not None else None,
            sort_by=pattern_sort_to_proto(sort_by),
            sort_order=common_pb2.SORT_ORDER_DESCENDING if descending else common_pb2.SORT_ORDER_ASCENDING,
            page_size=page_size,
        )
        pages = self._paged(
            self._patterns.ScanPatterns, request, lambda a: map(pattern_from_proto, a.patterns)
        )
        async for pattern in pages:
            yield pattern

    async def stream_patterns(
        self,
        pattern_filter: PatternFilter | None = None,
        *,
        heartbeat_interval: timedelta = timedelta(seconds=5),
    ) -> AsyncGenerator[Pattern, None]:
        """New patterns as the producer reports them, reconnecting after interruptions.

        Pattern streams have no positions: patterns reported while the stream was reconnecting are not
        replayed (`scan_patterns` shows what is cached).
        """
        interval = duration_pb2.Duration()
        interval.FromTimedelta(heartbeat_interval)
        request = pattern_service_pb2.StreamPatternsRequest(
            filter=pattern_filter_to_proto(pattern_filter) if pattern_filter is not None else None,
            heartbeat_interval=interval,
        )
        responses = reopening(
            lambda: self._patterns.StreamPatterns(request, metadata=self._metadata),
            stall=2 * heartbeat_interval,
            what="pattern stream",
        )
        async with contextlib.aclosing(responses):
            async for response in responses:
                if response.WhichOneof("payload") == "pattern":
                    yield pattern_from_proto(response.pattern)

    async def get_pattern_stats(self) -> PatternStats:
        """Statistics of the server's pattern cache and of the pattern producer."""
        request = pattern_service_pb2.GetPatternStatsRequest()
        answer = await self._call(self._patterns.GetPatternStats, request, idempotent=True)
        return pattern_stats_from_proto(answer)

    async def save_filter_preset(self, name: str, event_filter: EventFilter) -> FilterPreset:
        """Save (or replace) a named event filter for `stream_events(preset_name=...)`."""
        request = event_service_pb2.SaveFilterPresetRequest(
            preset=event_service_pb2.FilterPreset(name=name, filter=event_filter_to_proto(event_filter))
        )
        answer = await self._call(self._events.SaveFilterPreset, request, idempotent=True)
        return filter_preset_from_proto(answer.preset)

    async def list_filter_presets(self) -> list[FilterPreset]:
        """The saved presets of this client's user."""
        request = event_service_pb2.ListFilterPresetsRequest()
        answer = await self._call(self._events.ListFilterPresets, request, idempotent=True)
        return [filter_preset_from_proto(preset) for preset in answer.presets]

    async def delete_filter_preset(self, name: str) -> None:
        """Delete a saved preset."""
        request = event_service_pb2.DeleteFilterPresetRequest(name=name)
        await self._call(self._events.DeleteFilterPreset, request, idempotent=True)
