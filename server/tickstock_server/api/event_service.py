"""EventService servicer: parses the request, subscribes to the hub, streams batches. No business rules."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from tickstock.v1 import common_pb2, event_service_pb2
from tickstock_server.api import mappers, wire
from tickstock_server.api.auth import current_principal
from tickstock_server.api.event_requests import StreamRequest, parse_stream_request
from tickstock_server.api.interceptors import Context
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.hub import Ended, EndReason, Heartbeat, SubscriptionHub
from tickstock_server.errors import SubscriberOverloadedError


class EventServiceServicer:
    """Serves `tickstock.v1.EventService`. Responses of StreamEvents may be pre-serialised bytes."""

    def __init__(
        self,
        *,
        log: EventLog,
        hub: SubscriptionHub,
        max_symbols: int,
        max_streams: int,
        feed_age_ns: Callable[[], int],
        shutdown_grace_s: float,
    ) -> None:
        self._log = log
        self._hub = hub
        self._max_symbols = max_symbols
        self._max_streams = max_streams
        self._feed_age_ns = feed_age_ns
        self._shutdown_grace_ns = round(shutdown_grace_s * 1e9)

    async def StreamEvents(  # noqa: N802 - gRPC method name
        self, request: event_service_pb2.StreamEventsRequest, context: Context
    ) -> AsyncIterator[Any]:
        """Stream the filtered events: status first, then batches and idle heartbeats."""
        parsed = parse_stream_request(request, max_symbols=self._max_symbols)
        user = current_principal().user
        subscriber = self._hub.subscribe(user, parsed.filter, parsed.options)
        try:
            last_seq = self._log.last_seq
            yield event_service_pb2.StreamEventsResponse(
                subscription_status=self._status(subscriber.subscription_id, parsed, user, last_seq)
            )
            while True:
                delivery = await subscriber.receive()
                if isinstance(delivery, Heartbeat):
                    yield self._heartbeat(last_seq, subscriber.queue_depth)
                elif isinstance(delivery, Ended):
                    if delivery.reason is EndReason.SHUTDOWN:
                        yield self._rotate_hint(last_seq)
                        return
                    yield event_service_pb2.StreamEventsResponse(
                        drop_notice=event_service_pb2.DropNotice(
                            policy=event_service_pb2.SLOW_CONSUMER_POLICY_DISCONNECT,
                            dropped_count=subscriber.dropped,
                            first_dropped_seq=subscriber.first_dropped_seq,
                            last_dropped_seq=subscriber.last_dropped_seq,
                            total_dropped=subscriber.dropped,
                        )
                    )
                    raise SubscriberOverloadedError(
                        f"the client read too slowly and its queue of {subscriber.capacity} events "
                        f"overflowed; resume after seq {last_seq}"
                    )
                else:
                    last_seq = delivery[-1].seq
                    token = self._token(last_seq).SerializeToString()
                    yield wire.event_batch_response([entry.encoded for entry in delivery], token)
        finally:
            self._hub.unsubscribe(subscriber)

    def _token(self, seq: int) -> event_service_pb2.ResumeToken:
        return event_service_pb2.ResumeToken(epoch=self._log.epoch, seq=seq)

    def _status(
        self, subscription_id: str, parsed: StreamRequest, user: str, seq: int
    ) -> event_service_pb2.SubscriptionStatus:
        options = parsed.options
        return event_service_pb2.SubscriptionStatus(
            subscription_id=subscription_id,
            symbols=sorted(parsed.filter.symbols),
            all_symbols=not parsed.filter.symbols,
            delivery=event_service_pb2.DeliveryOptions(
                max_batch_size=options.max_batch_size,
                max_batch_latency=mappers.duration_from_ns(round(options.max_batch_latency_s * 1e9)),
                heartbeat_interval=mappers.duration_from_ns(round(options.heartbeat_interval_s * 1e9)),
                slow_consumer_policy=event_service_pb2.SLOW_CONSUMER_POLICY_DISCONNECT,
            ),
            limits=event_service_pb2.SubscriptionLimits(
                max_symbols_per_subscription=self._max_symbols,
                max_streams_per_user=self._max_streams,
                open_streams=self._hub.open_streams(user),
                queue_capacity=self._hub.queue_capacity,
            ),
            start=self._token(seq),
            replaying=False,
        )

    def _heartbeat(self, last_seq: int, queue_depth: int) -> event_service_pb2.StreamEventsResponse:
        return event_service_pb2.StreamEventsResponse(
            heartbeat=common_pb2.Heartbeat(
                server_time=mappers.timestamp_from_ns(time.time_ns()),
                last_seq=last_seq,
                feed_age=mappers.duration_from_ns(max(self._feed_age_ns(), 0)),
                queue_depth=queue_depth,
            )
        )

    def _rotate_hint(self, last_seq: int) -> event_service_pb2.StreamEventsResponse:
        return event_service_pb2.StreamEventsResponse(
            rotate_hint=event_service_pb2.RotateHint(
                reason=event_service_pb2.ROTATE_REASON_SHUTDOWN,
                resume_token=self._token(last_seq),
                deadline=mappers.timestamp_from_ns(time.time_ns() + self._shutdown_grace_ns),
            )
        )
