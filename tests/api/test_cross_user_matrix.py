"""One user's resources, reached by another user through every request field that names one.

Alice and bob each hold one watchlist, filter preset, alert subscription and backtest. For every entry of
the matrix (`cross_user_table.ENTRIES`), bob sends alice's value and then a value that names nothing: both
get the same answer (NOT_FOUND for a resource named by the request, INVALID_ARGUMENT for a filter's
watchlist, OK where bob creates something of his own), so the answer does not tell whether alice's
resource exists. No reply carries alice's data, and alice's resources read back unchanged. Alice then
sends her own value and gets the owner's answer, which shows the request reaches the resource.

The matrix is checked against the served descriptors: a new method or field that names a per-user
resource (by the rule of `cross_user_table.resource_fields`) fails `test_the_matrix_covers_every_field`
until it has an entry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from api_server import ServerFactory
from backtest_api import Harness, running_every_service
from cross_user_table import (
    ENTRIES,
    OK,
    SHARED,
    Entry,
    Metadata,
    Owned,
    Reply,
    backtest_request,
    call,
    empty_request,
    ids_in,
    list_methods,
    made_up,
    resource_fields,
)
from google.protobuf.message import Message

from tickstock.v1 import event_service_pb2, pattern_service_pb2, universe_service_pb2


@dataclass
class Users:
    harness: Harness
    alice: Owned
    bob: Owned

    async def call(self, method: str, request: Message, metadata: Metadata) -> Reply:
        return await call(self.harness.api.channel, method, request, metadata)


async def _create(users: Harness, metadata: Metadata, who: str, contents: dict[str, list[str]]) -> Owned:
    """One resource of each type for a user; `contents` holds symbols and pattern types of that user only."""
    api = users.api
    created = await call(
        api.channel,
        "UniverseService/CreateWatchlist",
        universe_service_pb2.CreateWatchlistRequest(
            watchlist=universe_service_pb2.Watchlist(name=f"{who}-list", symbols=contents["watchlist"])
        ),
        metadata,
    )
    assert isinstance(created.message, universe_service_pb2.CreateWatchlistResponse), created.text
    watchlist = created.message.watchlist
    preset = event_service_pb2.FilterPreset(
        name=f"{who}-preset",
        filter=event_service_pb2.EventFilter(
            symbols=contents["preset"], watchlist_ids=[watchlist.watchlist_id]
        ),
    )
    await api.events_stub().SaveFilterPreset(
        event_service_pb2.SaveFilterPresetRequest(preset=preset), metadata=metadata
    )
    subscription = await api.patterns_stub().CreateAlertSubscription(
        pattern_service_pb2.CreateAlertSubscriptionRequest(
            subscription=pattern_service_pb2.AlertSubscription(
                pattern_types=contents["alert patterns"], symbols=contents["alert"], min_confidence=0.7
            )
        ),
        metadata=metadata,
    )
    backtest = await users.stub.SubmitBacktest(
        backtest_request(contents["backtest"], contents["backtest patterns"]), metadata=metadata
    )
    return Owned(
        watchlist_id=watchlist.watchlist_id,
        watchlist_name=watchlist.name,
        preset_name=preset.name,
        subscription_id=subscription.subscription.subscription_id,
        backtest_id=backtest.backtest.backtest_id,
        contents=frozenset(value for values in contents.values() for value in values),
    )


@pytest.fixture
async def users(start_api_server: ServerFactory) -> AsyncIterator[Users]:
    """Every service, EventService resolving watchlists in UniverseService's store; alice and bob each
    holding one resource of each type, with contents the other's do not share."""
    async with running_every_service(start_api_server, shared_watchlists=True) as harness:
        alice = await _create(
            harness,
            harness.alice,
            "alice",
            {
                "watchlist": ["BRK.B", "SPY"],
                "preset": ["QQQ"],
                "alert": ["IBM"],
                "alert patterns": ["Head_Shoulders"],
                "backtest": ["TSLA"],
                "backtest patterns": ["Bull_Flag"],
            },
        )
        bob = await _create(
            harness,
            harness.bob,
            "bob",
            {
                "watchlist": ["JPM"],
                "preset": ["AMD"],
                "alert": ["MSFT"],
                "alert patterns": ["Doji"],
                "backtest": ["NVDA"],
                "backtest patterns": ["Hammer"],
            },
        )
        yield Users(harness=harness, alice=alice, bob=bob)


async def _lists(users: Users, metadata: Metadata) -> dict[str, str]:
    """What every List method of per-user resources answers the caller."""
    replies = {name: await users.call(name, empty_request(name), metadata) for name in list_methods()}
    assert {name: reply.code for name, reply in replies.items()} == dict.fromkeys(replies, OK)
    return {name: reply.text for name, reply in replies.items()}


def _leaked(reply: Reply, request: Message, owner: Owned) -> set[str]:
    """The owner's values in a reply, beyond those the request itself carried (which a reply may echo)."""
    said = str(request)
    shown = {marker for marker in owner.markers if marker in reply.text and marker not in said}
    return shown | (ids_in(reply.message) & owner.ids)


def test_the_matrix_covers_every_field_that_names_a_per_user_resource() -> None:
    covered = {entry.id for entry in ENTRIES}

    assert len(covered) == len(ENTRIES)
    assert covered | set(SHARED) == resource_fields()
    assert covered.isdisjoint(SHARED)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.id)
async def test_another_users_value_gets_what_a_value_naming_nothing_gets(users: Users, entry: Entry) -> None:
    # Arrange
    bob, alice = users.harness.bob, users.harness.alice
    value = entry.subject(users.alice)
    theirs_request = entry.build(value, users.bob)
    before = await _lists(users, alice)

    # Act
    theirs = await users.call(entry.method, theirs_request, bob)
    nobodys = await users.call(entry.method, entry.build(made_up(value), users.bob), bob)
    after = await _lists(users, alice)
    owners = await users.call(entry.method, entry.build(value, users.alice), alice)

    # Assert
    assert (theirs.code, nobodys.code, owners.code) == (entry.other, entry.other, entry.owner), theirs.text
    assert _leaked(theirs, theirs_request, users.alice) == set()
    assert after == before


async def test_lists_show_only_the_callers_resources(users: Users) -> None:
    # Act
    of_alice = await _lists(users, users.harness.alice)
    of_bob = await _lists(users, users.harness.bob)

    # Assert: each list shows one resource of its caller (its id or name) and nothing of the other user.
    def shown(texts: dict[str, str], owner: Owned) -> dict[str, set[str]]:
        return {name: {marker for marker in owner.markers if marker in text} for name, text in texts.items()}

    assert shown(of_alice, users.bob) == dict.fromkeys(of_alice, set())
    assert shown(of_bob, users.alice) == dict.fromkeys(of_bob, set())
    assert all(shown(of_alice, users.alice).values())
    assert all(shown(of_bob, users.bob).values())
