"""Probes of the cross-user access matrix (`cross_user_table`) against a running server: two users with one
resource of each type, and what another user's, nobody's and the owner's value in each entry's field get.

Used by the in-process matrix (tests/api) and by the one against a real server process (tests/integration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import grpc
from cross_user_table import OK, Entry, Metadata, Owned, list_methods, made_up, methods
from google.protobuf import message_factory, text_format
from google.protobuf.message import Message

from tickstock.v1 import (
    backtest_service_pb2,
    common_pb2,
    event_service_pb2,
    pattern_service_pb2,
    universe_service_pb2,
)

ALICES_CONTENTS = {
    "watchlist": ["BRK.B", "SPY"],
    "preset": ["QQQ"],
    "alert": ["IBM"],
    "alert patterns": ["Head_Shoulders"],
    "backtest": ["TSLA"],
    "backtest patterns": ["Bull_Flag"],
}
"""Symbols and pattern types of alice's resources, which bob's do not hold."""
BOBS_CONTENTS = {
    "watchlist": ["JPM"],
    "preset": ["AMD"],
    "alert": ["MSFT"],
    "alert patterns": ["Doji"],
    "backtest": ["NVDA"],
    "backtest patterns": ["Hammer"],
}
"""Symbols and pattern types of bob's resources."""


@dataclass(frozen=True)
class Reply:
    """What a call answered: its code, everything it said as text, and the response message if any."""

    code: grpc.StatusCode
    text: str
    message: Message | None = None


async def call(channel: grpc.aio.Channel, name: str, request: Message, metadata: Metadata) -> Reply:
    """Call one method; a stream's answer is its first message (or its error), then it is cancelled."""
    method = methods()[name]
    path = f"/{method.containing_service.full_name}/{method.name}"
    response_type = message_factory.GetMessageClass(method.output_type)
    serialize, deserialize = type(request).SerializeToString, response_type.FromString
    try:
        if method.server_streaming:
            stream = channel.unary_stream(
                path, request_serializer=serialize, response_deserializer=deserialize
            )
            call = stream(request, metadata=metadata, timeout=10)
            response = await call.read()
            call.cancel()
        else:
            unary = channel.unary_unary(path, request_serializer=serialize, response_deserializer=deserialize)
            response = await unary(request, metadata=metadata, timeout=10)
    except grpc.aio.AioRpcError as exc:
        return Reply(exc.code(), f"{exc.details()} {exc.trailing_metadata()!r}")
    assert isinstance(response, Message), f"{name} ended without a message"
    return Reply(OK, text_format.MessageToString(response, as_utf8=True), response)


def _empty_request(name: str) -> Message:
    return message_factory.GetMessageClass(methods()[name].input_type)()


def ids_in(message: Message | None) -> set[str]:
    """The values of every string field named like an id, at any depth of `message`."""
    found: set[str] = set()
    if message is None:
        return found
    for field, value in message.ListFields():
        for item in value if field.is_repeated else [value]:
            if isinstance(item, Message):
                found |= ids_in(item)
            elif isinstance(item, str) and re.search(r"(^|_)ids?$", field.name):
                found.add(item)
    return found


async def create_owned(
    channel: grpc.aio.Channel, metadata: Metadata, who: str, contents: dict[str, list[str]]
) -> Owned:
    """One resource of each type for the caller, holding `contents`, named after `who`."""
    created = await call(
        channel,
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
    subscription = pattern_service_pb2.AlertSubscription(
        pattern_types=contents["alert patterns"], symbols=contents["alert"], min_confidence=0.7
    )
    backtest = backtest_service_pb2.SubmitBacktestRequest(
        symbols=contents["backtest"],
        start_date=common_pb2.Date(year=2025, month=1, day=2),
        end_date=common_pb2.Date(year=2025, month=12, day=31),
        patterns=contents["backtest patterns"],
    )
    replies = [
        await call(channel, name, request, metadata)
        for name, request in (
            ("EventService/SaveFilterPreset", event_service_pb2.SaveFilterPresetRequest(preset=preset)),
            (
                "PatternService/CreateAlertSubscription",
                pattern_service_pb2.CreateAlertSubscriptionRequest(subscription=subscription),
            ),
            ("BacktestService/SubmitBacktest", backtest),
        )
    ]
    _, subscribed, submitted = (reply.message for reply in replies)
    assert isinstance(subscribed, pattern_service_pb2.CreateAlertSubscriptionResponse), replies
    assert isinstance(submitted, backtest_service_pb2.SubmitBacktestResponse), replies
    return Owned(
        watchlist_id=watchlist.watchlist_id,
        watchlist_name=watchlist.name,
        preset_name=preset.name,
        subscription_id=subscribed.subscription.subscription_id,
        backtest_id=submitted.backtest.backtest_id,
        contents=frozenset(value for values in contents.values() for value in values),
    )


@dataclass(frozen=True)
class Users:
    """Alice and bob on one server: their keys and their resources."""

    channel: grpc.aio.Channel
    alice: Metadata
    bob: Metadata
    alices: Owned
    bobs: Owned

    @classmethod
    async def create(cls, channel: grpc.aio.Channel, alice: Metadata, bob: Metadata) -> Users:
        """Give alice and bob one resource of each type (`ALICES_CONTENTS`, `BOBS_CONTENTS`)."""
        alices = await create_owned(channel, alice, "alice", ALICES_CONTENTS)
        bobs = await create_owned(channel, bob, "bob", BOBS_CONTENTS)
        return cls(channel=channel, alice=alice, bob=bob, alices=alices, bobs=bobs)


async def lists(channel: grpc.aio.Channel, metadata: Metadata) -> dict[str, str]:
    """What every List method of per-user resources answers the caller, as text."""
    replies = {name: await call(channel, name, _empty_request(name), metadata) for name in list_methods()}
    assert {name: reply.code for name, reply in replies.items()} == dict.fromkeys(replies, OK)
    return {name: reply.text for name, reply in replies.items()}


def shown(texts: dict[str, str], owner: Owned) -> dict[str, set[str]]:
    """The owner's values that each text shows."""
    return {name: {marker for marker in owner.markers if marker in text} for name, text in texts.items()}


@dataclass(frozen=True)
class Probe:
    """What one entry of the matrix got."""

    codes: tuple[grpc.StatusCode, grpc.StatusCode, grpc.StatusCode]
    """The answers to bob with alice's value, to bob with a value naming nothing, to alice with hers."""
    leaked: set[str]
    """Alice's values in bob's reply, beyond those bob's request carried (which a reply may echo)."""
    unchanged: bool
    """Whether alice's lists read the same before and after bob's calls."""
    reply: str
    """Bob's reply to alice's value, to explain a failure."""


async def probe(users: Users, entry: Entry) -> Probe:
    """Bob sends alice's value and one naming nothing; alice's lists are read around it; then alice sends
    hers (last: it may delete or change her resource)."""
    value = entry.subject(users.alices)
    theirs_request = entry.build(value, users.bobs)
    before = await lists(users.channel, users.alice)
    theirs = await call(users.channel, entry.method, theirs_request, users.bob)
    nobodys = await call(users.channel, entry.method, entry.build(made_up(value), users.bobs), users.bob)
    after = await lists(users.channel, users.alice)
    owners = await call(users.channel, entry.method, entry.build(value, users.alices), users.alice)
    said = str(theirs_request)
    leaked = {marker for marker in users.alices.markers if marker in theirs.text and marker not in said}
    return Probe(
        codes=(theirs.code, nobodys.code, owners.code),
        leaked=leaked | (ids_in(theirs.message) & users.alices.ids),
        unchanged=after == before,
        reply=theirs.text,
    )
