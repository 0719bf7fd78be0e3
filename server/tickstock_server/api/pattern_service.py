"""PatternService servicer: scans, stats and live streams of cached patterns, and per-user alerts."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from tickstock.v1 import common_pb2, pattern_service_pb2
from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.service import AlertService
from tickstock_server.alerts.stream import AlertHeartbeat, AlertStreamEnd, AlertStreamEnded
from tickstock_server.api.auth import current_principal
from tickstock_server.api.interceptors import Context
from tickstock_server.api.mappers import pattern_service as pm
from tickstock_server.api.mappers._common import duration_from_ns, timestamp_from_ns
from tickstock_server.domain.alerts import Alert, AlertsSuppressed
from tickstock_server.errors import (
    InvalidRequestError,
    NotReadyError,
    SubscriberOverloadedError,
)
from tickstock_server.patterns.cache import PatternCache
from tickstock_server.patterns.live_feed import PatternSubscription
from tickstock_server.ports.universes import UniverseResolver
from tickstock_server.support.stream_limits import StreamLimiter


@dataclass(frozen=True, slots=True, kw_only=True)
class ProducerStatus:
    """What the servicer reports about the producer side (consumer and fallback)."""

    events_processed: int
    invalid_messages: int
    heartbeat_ns: int | None
    """The producer's last heartbeat, UTC epoch ns; None when never seen."""
    fallback_active: bool


class PatternServiceServicer:
    """Serves `tickstock.v1.PatternService`."""

    def __init__(
        self,
        *,
        cache: PatternCache,
        universes: UniverseResolver,
        alerts: AlertService,
        alert_router: AlertRouter,
        producer_status: Callable[[], ProducerStatus],
        stream_capacity: int = 1000,
        max_streams_per_user: int = 10,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._cache = cache
        self._universes = universes
        self._alerts = alerts
        self._router = alert_router
        self._producer_status = producer_status
        self._stream_capacity = stream_capacity
        self._stream_limits = StreamLimiter(
            max_streams_per_user, refusal="a user may hold at most {limit} pattern streams open"
        )
        self._clock_ns = clock_ns

    async def ScanPatterns(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.ScanPatternsRequest, context: Context
    ) -> pattern_service_pb2.ScanPatternsResponse:
        """One page of the current patterns the filter selects."""
        universe_symbols = await self._resolve(request.filter)
        query = pm.scan_query_from_proto(request, universe_symbols)
        page = self._cache.scan(query, self._clock_ns())
        token = (
            pm.page_token(request, page.next_cursor, query.sort_by) if page.next_cursor is not None else ""
        )
        return pattern_service_pb2.ScanPatternsResponse(
            patterns=[pm.pattern_to_proto(p) for p in page.patterns],
            next_page_token=token,
            total_size=page.total_size,
        )

    async def GetPatternStats(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.GetPatternStatsRequest, context: Context
    ) -> pattern_service_pb2.GetPatternStatsResponse:
        """Cache and producer statistics."""
        stats = self._cache.stats()
        producer = self._producer_status()
        response = pattern_service_pb2.GetPatternStatsResponse(
            cached_patterns=stats.size,
            events_processed=producer.events_processed,
            invalid_messages=producer.invalid_messages,
            expired_cleaned=stats.expired_cleaned,
            scans=stats.scans,
            fallback_active=producer.fallback_active,
            patterns_by_type=dict(stats.counts_by_type),
        )
        if stats.last_detected_ns is not None:
            response.last_event_time.CopyFrom(timestamp_from_ns(stats.last_detected_ns))
        if producer.heartbeat_ns is not None:
            age_ns = max(self._clock_ns() - producer.heartbeat_ns, 0)
            response.producer_heartbeat_age.CopyFrom(duration_from_ns(age_ns))
        return response

    async def StreamPatterns(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.StreamPatternsRequest, context: Context
    ) -> AsyncIterator[pattern_service_pb2.StreamPatternsResponse]:
        """New patterns the filter selects, as they arrive, with idle heartbeats."""
        heartbeat_s = pm.heartbeat_s_from_proto(request.heartbeat_interval)
        query = pm.stream_query_from_proto(request, await self._resolve(request.filter))
        with self._stream_limits.hold(current_principal().user):
            subscription = PatternSubscription(query, self._stream_capacity)
            remove = self._cache.add_listener(subscription.offer)
            try:
                while True:
                    pattern = await subscription.receive(heartbeat_s)
                    if pattern is None:
                        yield pattern_service_pb2.StreamPatternsResponse(heartbeat=self._heartbeat(0))
                    else:
                        yield pattern_service_pb2.StreamPatternsResponse(pattern=pm.pattern_to_proto(pattern))
            finally:
                remove()

    async def CreateAlertSubscription(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.CreateAlertSubscriptionRequest, context: Context
    ) -> pattern_service_pb2.CreateAlertSubscriptionResponse:
        """Store a subscription of the caller and start routing alerts to it."""
        subscription = pm.alert_subscription_from_proto(request.subscription, current_principal().user)
        stored = await self._alerts.create(subscription)
        return pattern_service_pb2.CreateAlertSubscriptionResponse(
            subscription=pm.alert_subscription_to_proto(stored)
        )

    async def ListAlertSubscriptions(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.ListAlertSubscriptionsRequest, context: Context
    ) -> pattern_service_pb2.ListAlertSubscriptionsResponse:
        """The caller's subscriptions, oldest first."""
        subscriptions = await self._alerts.list(current_principal().user)
        return pattern_service_pb2.ListAlertSubscriptionsResponse(
            subscriptions=[pm.alert_subscription_to_proto(s) for s in subscriptions]
        )

    async def DeleteAlertSubscription(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.DeleteAlertSubscriptionRequest, context: Context
    ) -> pattern_service_pb2.DeleteAlertSubscriptionResponse:
        """Delete one of the caller's subscriptions."""
        await self._alerts.delete(current_principal().user, request.subscription_id)
        return pattern_service_pb2.DeleteAlertSubscriptionResponse()

    async def StreamAlerts(  # noqa: N802 - gRPC method name
        self, request: pattern_service_pb2.StreamAlertsRequest, context: Context
    ) -> AsyncIterator[pattern_service_pb2.StreamAlertsResponse]:
        """The caller's alerts, suppressed counts in band, and idle heartbeats."""
        heartbeat_s = pm.heartbeat_s_from_proto(request.heartbeat_interval)
        with self._router.open_stream(current_principal().user) as stream:
            while True:
                item = await stream.receive(heartbeat_s)
                if isinstance(item, Alert):
                    yield pattern_service_pb2.StreamAlertsResponse(alert=pm.alert_to_proto(item))
                elif isinstance(item, AlertsSuppressed):
                    yield pattern_service_pb2.StreamAlertsResponse(
                        suppressed=pm.alerts_suppressed_to_proto(item)
                    )
                elif isinstance(item, AlertHeartbeat):
                    yield pattern_service_pb2.StreamAlertsResponse(
                        heartbeat=self._heartbeat(stream.queue_depth)
                    )
                else:
                    _end_alert_stream(item)
                    return

    async def _resolve(self, proto: pattern_service_pb2.PatternFilter) -> frozenset[str] | None:
        """The filter's universes expanded; None when it names none."""
        universes = list(proto.universes)  # at most 20, by the proto's rules
        if not universes:
            return None
        try:
            return await self._universes.resolve(universes)
        except InvalidRequestError as exc:
            raise pm.in_filter(exc) from exc

    def _heartbeat(self, queue_depth: int) -> common_pb2.Heartbeat:
        now_ns = self._clock_ns()
        heartbeat_ns = self._producer_status().heartbeat_ns
        age_ns = max(now_ns - heartbeat_ns, 0) if heartbeat_ns is not None else 0
        return common_pb2.Heartbeat(
            server_time=timestamp_from_ns(now_ns),
            feed_age=duration_from_ns(age_ns),
            queue_depth=queue_depth,
        )


def _end_alert_stream(ended: AlertStreamEnded) -> None:
    if ended.reason is AlertStreamEnd.OVERLOADED:
        raise SubscriberOverloadedError(
            f"the client read too slowly: {ended.dropped} alerts did not fit its queue; list them by scanning"
        )
    if ended.reason is AlertStreamEnd.SHUTDOWN:
        raise NotReadyError("the server is shutting down; reconnect")
