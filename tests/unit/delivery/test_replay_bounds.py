"""A stream's replay is bounded: `max_replay_events` per resume, paced per user, yielding to the loop."""

from __future__ import annotations

import asyncio

from event_factories import TS_NS, make_event

from tickstock_server.adapters.memory.events import MemoryEventHistory
from tickstock_server.delivery.event_log import EventLog
from tickstock_server.delivery.filters import EventFilter
from tickstock_server.delivery.hub import DeliveryOptions, SubscriptionHub
from tickstock_server.delivery.replay import Gap, GapReason
from tickstock_server.delivery.session import (
    Batch,
    ReplayDone,
    ResumePoint,
    StreamMessage,
    StreamSources,
    stream_events,
)
from tickstock_server.support.token_bucket import UserTokenBuckets

_OPTIONS = DeliveryOptions(max_batch_size=1000, max_batch_latency_s=0.0, heartbeat_interval_s=60.0)


class _Budget(UserTokenBuckets):
    """A replay budget on a clock that never moves: records what each user spent and would wait."""

    def __init__(self, *, rate_per_s: float = 1_000_000, burst: int = 1_000_000) -> None:
        super().__init__(rate_per_s=rate_per_s, burst=burst, clock=lambda: 0.0, sleep=self._sleep)
        self.spent: dict[str, int] = {}
        self.waits_s: list[float] = []

    async def spend(self, user: str, tokens: int) -> None:
        self.spent[user] = self.spent.get(user, 0) + tokens
        await super().spend(user, tokens)

    async def _sleep(self, delay_s: float) -> None:
        self.waits_s.append(delay_s)
        await asyncio.sleep(0)


def _sources(count: int, *, max_replay_events: int, budget: _Budget, ring: int = 10_000) -> StreamSources:
    log = EventLog(lambda event, seq, ingest, detect: b"", capacity=ring, epoch="e1")
    entries = log.append(
        [make_event(price=100 + i) for i in range(count)], ingest_ts_ns=TS_NS, detect_ts_ns=TS_NS
    )
    return StreamSources(
        hub=SubscriptionHub(max_streams_per_user=20, queue_capacity=100),
        log=log,
        history=MemoryEventHistory(entries),
        snapshots=None,
        max_age_s=None,
        max_replay_events=max_replay_events,
        replay_budget=budget,
        stall_timeout_s=5.0,
    )


async def _replay(sources: StreamSources, resume: ResumePoint, user: str = "alice") -> list[StreamMessage]:
    """The stream's messages up to the end of its replay."""
    messages: list[StreamMessage] = []
    stream = stream_events(
        sources,
        user=user,
        event_filter=EventFilter(),
        options=_OPTIONS,
        resume=resume,
        include_snapshot=False,
    )
    async for message in stream:
        messages.append(message)
        if isinstance(message, ReplayDone):
            break
    await stream.aclose()
    return messages


def _gaps_and_seqs(messages: list[StreamMessage]) -> tuple[list[Gap], list[int]]:
    gaps = [message for message in messages if isinstance(message, Gap)]
    seqs = [entry.seq for message in messages if isinstance(message, Batch) for entry in message.entries]
    return gaps, seqs


async def test_a_resume_beyond_the_limit_replays_the_newest_entries_after_a_replay_limit_gap() -> None:
    sources = _sources(250, max_replay_events=100, budget=_Budget())

    messages = await _replay(sources, ResumePoint("e1", 0))

    gaps, seqs = _gaps_and_seqs(messages)
    assert gaps == [Gap(1, 150, GapReason.REPLAY_LIMIT)]
    assert seqs == list(range(151, 251))
    assert messages[-1] == ReplayDone(100, 250)


async def test_a_made_up_epoch_is_told_epoch_changed_and_gets_only_the_newest_entries() -> None:
    sources = _sources(250, max_replay_events=100, budget=_Budget(), ring=50)

    messages = await _replay(sources, ResumePoint("made-up", 7))

    gaps, seqs = _gaps_and_seqs(messages)
    assert gaps == [Gap(0, 0, GapReason.EPOCH_CHANGED), Gap(1, 150, GapReason.REPLAY_LIMIT)]
    assert seqs == list(range(151, 251))


async def test_a_resume_within_the_limit_replays_everything_without_a_gap() -> None:
    sources = _sources(250, max_replay_events=250, budget=_Budget())

    gaps, seqs = _gaps_and_seqs(await _replay(sources, ResumePoint("e1", 0)))

    assert (gaps, seqs) == ([], list(range(1, 251)))


async def test_every_replayed_entry_is_paid_for_by_the_streams_user() -> None:
    budget = _Budget()
    sources = _sources(1200, max_replay_events=1000, budget=budget, ring=300)  # store, then memory

    await _replay(sources, ResumePoint("e1", 0), user="alice")

    assert budget.spent == {"alice": 1000}


async def test_ten_huge_replays_of_one_user_are_paced_and_another_users_replay_is_not() -> None:
    budget = _Budget(rate_per_s=1000, burst=500)
    sources = _sources(2000, max_replay_events=2000, budget=budget)

    await asyncio.gather(*(_replay(sources, ResumePoint("e1", 0), user="alice") for _ in range(10)))
    alice_waits = list(budget.waits_s)
    budget.waits_s.clear()
    await _replay(sources, ResumePoint("e1", 0), user="bob")

    # 20,000 entries at 1,000/s after a burst of 500: the last chunk waits about 19.5 s of debt.
    assert budget.spent == {"alice": 20_000, "bob": 2000}
    assert max(alice_waits) >= 19.0
    assert max(budget.waits_s) <= 1.5  # bob's own 2,000 entries: 1.5 s beyond his burst, at most


async def test_a_replay_from_memory_yields_to_the_event_loop_between_chunks() -> None:
    sources = _sources(5000, max_replay_events=5000, budget=_Budget())
    turns = 0
    replaying = True

    async def other_calls() -> None:
        nonlocal turns
        while replaying:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_calls())
    await asyncio.sleep(0)
    started_at = turns
    await _replay(sources, ResumePoint("e1", 0))
    replaying = False
    await other

    # 5,000 entries are read in chunks of 500: the other task ran between every two of them.
    assert turns - started_at >= 9
