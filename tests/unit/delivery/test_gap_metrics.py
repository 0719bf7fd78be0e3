"""Gap notices are counted by reason as streams send them; every reason is exported from 0."""

from __future__ import annotations

from event_factories import TS_NS, make_event

from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SubscriptionHub
from tickstock_server.delivery.replay import Gap, GapReason
from tickstock_server.delivery.session import ReplayDone, ResumePoint, StreamSources, stream_events
from tickstock_server.support.token_bucket import UserTokenBuckets

_OPTIONS = DeliveryOptions(max_batch_size=1000, max_batch_latency_s=0.0, heartbeat_interval_s=60.0)


def _sources() -> StreamSources:
    log = EventLog(lambda event, seq, ingest, detect: b"", capacity=10, epoch="e1")
    log.append([make_event(price=100 + i) for i in range(30)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS)
    return StreamSources(
        hub=SubscriptionHub(max_streams_per_user=20, queue_capacity=100),
        log=log,
        history=None,
        snapshots=None,
        max_age_s=None,
        max_replay_events=15,
        replay_budget=UserTokenBuckets(rate_per_s=1_000_000, burst=1_000_000),
        stall_timeout_s=5.0,
    )


async def _gaps(sources: StreamSources, resume: ResumePoint) -> list[GapReason]:
    stream = stream_events(
        sources, user="u", event_filter=EventFilter(), options=_OPTIONS, resume=resume, include_snapshot=False
    )
    reasons = []
    async for message in stream:
        if isinstance(message, Gap):
            reasons.append(message.reason)
        if isinstance(message, ReplayDone):
            break
    await stream.aclose()
    return reasons


def _counts(sources: StreamSources) -> dict[str, float]:
    return {sample.labels["reason"]: sample.value for sample in sources.gaps.metric_samples()}


async def test_every_gap_a_stream_sends_is_counted_by_its_reason() -> None:
    # Arrange: 30 events, the ring keeps the last 10 and no store; a resume replays at most 15
    sources = _sources()
    assert _counts(sources) == {"aged_out": 0, "epoch_changed": 0, "not_persisted": 0, "replay_limit": 0}

    # Act
    sent = [
        *await _gaps(sources, ResumePoint("e1", 25)),  # within the ring: no gap
        *await _gaps(sources, ResumePoint("e1", 18)),  # 19..20 left the ring and were never stored
        *await _gaps(sources, ResumePoint("gone", 3)),  # another epoch: everything, beyond the limit
    ]

    # Assert: the counters say what the streams were told
    counts = _counts(sources)
    assert sum(counts.values()) == len(sent) >= 3
    assert counts == {reason.value: sent.count(reason) for reason in GapReason}
    assert counts["epoch_changed"] == 1
