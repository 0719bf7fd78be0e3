"""One user's resources, reached by another user through every request field that names one.

Alice and bob each hold one watchlist, filter preset, alert subscription and backtest. For every entry of
the matrix (`cross_user_table.ENTRIES`), bob sends alice's value and then a value that names nothing: both
get the same answer (NOT_FOUND for a resource named by the request, INVALID_ARGUMENT for a filter's
watchlist, OK where bob creates or renames something of his own), so the answer does not tell whether
alice's resource exists. No reply carries alice's data, and alice's resources read back unchanged. Alice
then sends her own value and gets the owner's answer, which shows the request reaches the resource.
Lists and alert streams, which take no id, show each user only their own.

The matrix is checked against the served descriptors: a new method or field that names a per-user
resource (by the rule of `cross_user_table.resource_fields`) fails
`test_the_matrix_covers_every_field_that_names_a_per_user_resource` until it has an entry. The same
matrix runs against a real server process over PostgreSQL and Redis in
tests/integration/test_cross_user_matrix_process.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from api_server import ServerFactory
from backtest_api import Harness, running_every_service
from cross_user_probe import Users, lists, probe, shown
from cross_user_table import ENTRIES, SHARED, Entry, resource_fields
from pattern_api import NOW_NS, make_pattern
from polling import eventually

from tickstock.v1 import pattern_service_pb2


@pytest.fixture
async def every(start_api_server: ServerFactory) -> AsyncIterator[Harness]:
    """Every service on a clock at `NOW_NS`, EventService resolving watchlists in UniverseService's store
    (as the server does)."""
    async with running_every_service(start_api_server, shared_watchlists=True, clock_ns=lambda: NOW_NS) as h:
        yield h


@pytest.fixture
async def users(every: Harness) -> Users:
    """Alice and bob each holding one resource of each type, with contents the other's do not share."""
    return await Users.create(every.api.channel, every.alice, every.bob)


def test_the_matrix_covers_every_field_that_names_a_per_user_resource() -> None:
    covered = {entry.id for entry in ENTRIES}

    assert len(covered) == len(ENTRIES)
    assert covered | set(SHARED) == resource_fields()
    assert covered.isdisjoint(SHARED)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.id)
async def test_another_users_value_gets_what_a_value_naming_nothing_gets(users: Users, entry: Entry) -> None:
    # Act
    probed = await probe(users, entry)

    # Assert
    assert probed.codes == (entry.other, entry.other, entry.owner), probed.reply
    assert probed.leaked == set()
    assert probed.unchanged


async def test_lists_show_only_the_callers_resources(users: Users) -> None:
    # Act
    of_alice = await lists(users.channel, users.alice)
    of_bob = await lists(users.channel, users.bob)

    # Assert: each list shows the resource of its caller (its id or name) and nothing of the other user.
    assert shown(of_alice, users.bobs) == dict.fromkeys(of_alice, set())
    assert shown(of_bob, users.alices) == dict.fromkeys(of_bob, set())
    assert all(shown(of_alice, users.alices).values())
    assert all(shown(of_bob, users.bobs).values())


async def test_an_alert_stream_carries_only_its_callers_alerts(every: Harness, users: Users) -> None:
    # Arrange: alice's subscription takes Head_Shoulders on IBM, bob's Doji on MSFT.
    request = pattern_service_pb2.StreamAlertsRequest()
    request.heartbeat_interval.FromSeconds(1)
    call = every.api.patterns_stub().StreamAlerts(request, metadata=users.bob)
    await eventually(lambda: every.api.patterns.router.open_streams("bob") == 1)

    # Act: alice's pattern first; alerts are routed in order, so one of alice's would come first.
    every.api.patterns.cache.put(make_pattern("for-alice", "IBM", "Head_Shoulders"))
    every.api.patterns.cache.put(make_pattern("for-bob", "MSFT", "Doji"))
    async with asyncio.timeout(20):  # a guard against a hang, not a timing assertion
        received = await call.read()
        while received.WhichOneof("payload") == "heartbeat":
            received = await call.read()
    call.cancel()

    # Assert
    assert (received.alert.subscription_id, received.alert.pattern.details.pattern_id) == (
        users.bobs.subscription_id,
        "for-bob",
    )
