"""Mailbox: the bound and its two policies, close, notices, batches, and the reader's waits."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence

import pytest

from tickstock_server.support.mailbox import Mailbox, OverflowPolicy


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


# --- END ----------------------------------------------------------------------------------------------


def test_end_policy_refuses_the_item_at_the_bound_and_every_later_one() -> None:
    # Arrange
    dropped: list[int] = []
    overloads: list[None] = []
    mailbox: Mailbox[int] = Mailbox(
        2, on_drop=lambda items: dropped.extend(items), on_overload=lambda: overloads.append(None)
    )

    # Act
    accepted = [mailbox.put(item) for item in range(5)]

    # Assert
    assert accepted == [True, True, False, False, False]
    assert (mailbox.overloaded, mailbox.dropped, dropped, len(overloads)) == (True, 3, [2, 3, 4], 1)
    assert [mailbox.take(), mailbox.take()] == [0, 1]  # what was queued before the overflow stays
    assert not mailbox.put(5)  # room again, but an overloaded mailbox refuses for good
    assert mailbox.dropped == 4


def test_close_refuses_items_without_counting_them() -> None:
    mailbox: Mailbox[int] = Mailbox(2)
    mailbox.put(1)

    mailbox.close()

    assert (mailbox.put(2), mailbox.closed, mailbox.dropped, len(mailbox)) == (False, True, 0, 1)


def test_an_overloaded_mailbox_keeps_counting_after_close() -> None:
    mailbox: Mailbox[int] = Mailbox(1)
    mailbox.put(1)
    mailbox.put(2)

    mailbox.close()
    mailbox.put(3)

    assert mailbox.dropped == 2


# --- CONFLATE -----------------------------------------------------------------------------------------


def test_conflate_policy_keeps_the_newest_items_by_default() -> None:
    # Arrange
    dropped: list[str] = []
    mailbox: Mailbox[str] = Mailbox(2, OverflowPolicy.CONFLATE, on_drop=lambda items: dropped.extend(items))

    # Act
    accepted = [mailbox.put(item) for item in "abcd"]

    # Assert
    assert accepted == [True] * 4
    assert (mailbox.take_batch(10), mailbox.dropped, dropped) == (["c", "d"], 2, ["a", "b"])
    assert not mailbox.overloaded


def test_a_mailbox_of_one_holds_only_the_latest_unread_item() -> None:
    mailbox: Mailbox[int] = Mailbox(1, OverflowPolicy.CONFLATE)
    for item in range(4):
        mailbox.put(item)

    assert (mailbox.take(), mailbox.dropped) == (3, 3)


def test_conflate_policy_uses_the_given_compaction_and_reports_what_it_removed() -> None:
    # Arrange: keep the newest item per first letter, report removals in reverse
    def newest_per_letter(queue: deque[str]) -> tuple[deque[str], Sequence[str]]:
        newest = {item[0]: item for item in queue}
        kept = deque(item for item in queue if newest[item[0]] == item)
        return kept, [item for item in reversed(queue) if item not in kept]

    dropped: list[str] = []
    mailbox: Mailbox[str] = Mailbox(
        3, OverflowPolicy.CONFLATE, compact=newest_per_letter, on_drop=lambda items: dropped.extend(items)
    )

    # Act
    for item in ("a1", "b1", "a2", "b2"):
        mailbox.put(item)

    # Assert
    assert (mailbox.take_batch(10), dropped, mailbox.dropped) == (["a2", "b2"], ["b1", "a1"], 2)


# --- put_after and push -------------------------------------------------------------------------------


def test_put_after_queues_prefix_and_item_together_when_they_fit() -> None:
    mailbox: Mailbox[str] = Mailbox(3)
    mailbox.put("x")

    assert mailbox.put_after(["n1"], "a")
    assert mailbox.take_batch(10) == ["x", "n1", "a"]


def test_put_after_that_does_not_fit_refuses_only_the_item_and_leaves_the_prefix_out() -> None:
    # Arrange
    dropped: list[str] = []
    mailbox: Mailbox[str] = Mailbox(2, on_drop=lambda items: dropped.extend(items))
    mailbox.put("x")

    # Act
    accepted = mailbox.put_after(["n1"], "a")

    # Assert
    assert (accepted, mailbox.overloaded, mailbox.dropped, dropped) == (False, True, 1, ["a"])
    assert mailbox.take_batch(10) == ["x"]


def test_push_ignores_the_bound_and_the_state_but_counts_toward_later_puts() -> None:
    mailbox: Mailbox[str] = Mailbox(2)
    mailbox.put("x")
    mailbox.put("y")
    mailbox.put("z")  # overloads
    mailbox.close()

    mailbox.push(["n1", "n2"])

    assert (len(mailbox), mailbox.dropped) == (4, 1)
    assert mailbox.take_batch(10) == ["x", "y", "n1", "n2"]


# --- the reader ---------------------------------------------------------------------------------------


async def test_wait_returns_false_when_nothing_wakes_the_reader_in_time() -> None:
    mailbox: Mailbox[int] = Mailbox(2)

    assert not await mailbox.wait(0.001)


@pytest.mark.parametrize("action", ["put", "close", "overflow", "wake"])
async def test_a_put_close_overflow_or_wake_wakes_a_waiting_reader(action: str) -> None:
    # Arrange
    mailbox: Mailbox[int] = Mailbox(1)
    if action == "overflow":
        mailbox.put(0)
    waiting = asyncio.create_task(mailbox.wait(None))
    await _settle()

    # Act
    if action in ("put", "overflow"):
        mailbox.put(1)
    elif action == "close":
        mailbox.close()
    else:
        mailbox.wake()

    # Assert
    assert await waiting


async def test_a_batch_mailbox_wakes_its_reader_at_the_first_item_and_when_a_batch_is_full() -> None:
    # Arrange
    mailbox: Mailbox[int] = Mailbox(10, batch_size=3)
    mailbox.put(1)
    waiting = asyncio.create_task(mailbox.wait(None))  # clears the wake-up of the first item
    await _settle()

    # Act / Assert
    mailbox.put(2)
    await _settle()
    assert not waiting.done()
    mailbox.put(3)
    assert await waiting


async def test_a_batch_starts_when_the_queue_fills_and_again_when_a_batch_is_taken() -> None:
    loop = asyncio.get_running_loop()
    mailbox: Mailbox[int] = Mailbox(10, batch_size=2)

    before = loop.time()
    mailbox.put(1)
    mailbox.put(2)
    mailbox.put(3)
    first_start = mailbox.batch_start_s
    batch = mailbox.take_batch(2)

    assert before <= first_start <= mailbox.batch_start_s <= loop.time()
    assert (batch, len(mailbox)) == ([1, 2], 1)


async def test_get_waits_for_an_item_and_takes_it() -> None:
    mailbox: Mailbox[str] = Mailbox(1)
    getting = asyncio.create_task(mailbox.get())
    await _settle()

    mailbox.put("state")

    assert await getting == "state"
    assert len(mailbox) == 0


def test_clear_discards_without_counting() -> None:
    mailbox: Mailbox[int] = Mailbox(3)
    mailbox.put(1)
    mailbox.put(2)

    mailbox.clear()

    assert (len(mailbox), mailbox.dropped, mailbox.put(3)) == (0, 0, True)


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Mailbox[int](0)
