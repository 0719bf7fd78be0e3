"""The cross-user access matrix: every request field that names a per-user resource, how to build a request
with a chosen value in it, and what the resource's owner and any other user get.

Which fields name a resource is derived from the served descriptors (`resource_fields`); the test of the
matrix checks that `ENTRIES` and `SHARED` together cover exactly those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from tickstock.v1 import backtest_service_pb2, event_service_pb2, pattern_service_pb2, universe_service_pb2
from tickstock_server.api.server import SERVICES

OK, NOT_FOUND, INVALID = grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
Metadata = tuple[tuple[str, str], ...]
_NAMES_A_RESOURCE = re.compile(r"(^|_)(id|ids|name)$")


@dataclass(frozen=True)
class Owned:
    """One user's resources, one of each type, and what they hold that no other user's do."""

    watchlist_id: str
    watchlist_name: str
    preset_name: str
    subscription_id: str
    backtest_id: str
    contents: frozenset[str]
    """Symbols and pattern types only this user's resources hold."""

    @property
    def ids(self) -> frozenset[str]:
        """Every id of this user's resources."""
        return frozenset({self.watchlist_id, self.subscription_id, self.backtest_id})

    @property
    def markers(self) -> frozenset[str]:
        """Every value that shows this user's data: ids, names and contents."""
        return self.ids | self.contents | {self.watchlist_name, self.preset_name}


@dataclass(frozen=True)
class Entry:
    """One request field that names a per-user resource."""

    method: str
    """Service and method, as in "UniverseService/GetWatchlist"."""
    field: str
    """The field's path in the request."""
    subject: Callable[[Owned], str]
    """Which of the owner's values goes into the field."""
    build: Callable[[str, Owned], Message]
    """The request with a value in the field; the rest of it refers to the caller's own resources."""
    other: grpc.StatusCode
    """What any other user gets, the same as for a value that names nothing."""
    owner: grpc.StatusCode
    """What the owner gets."""

    @property
    def id(self) -> str:
        return f"{self.method}:{self.field}"


def _by_id(service: str, request_type: type[Message], subject: Callable[[Owned], str]) -> Entry:
    """The method of a request whose only field names the resource: any other user gets NOT_FOUND."""
    (field,) = request_type.DESCRIPTOR.fields
    method = f"{service}/{request_type.DESCRIPTOR.name.removesuffix('Request')}"
    return Entry(
        method, field.name, subject, lambda v, _: request_type(**{field.name: v}), other=NOT_FOUND, owner=OK
    )


def _watchlist(**fields: object) -> universe_service_pb2.Watchlist:
    return universe_service_pb2.Watchlist(**fields)  # type: ignore[arg-type]


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "EventService/StreamEvents",
        "filter.watchlist_ids",
        lambda o: o.watchlist_id,
        lambda v, _: event_service_pb2.StreamEventsRequest(
            filter=event_service_pb2.EventFilter(watchlist_ids=[v])
        ),
        other=INVALID,  # a filter's watchlist that is not the caller's: "no such watchlist of yours"
        owner=OK,
    ),
    Entry(
        "EventService/StreamEvents",
        "preset_name",
        lambda o: o.preset_name,
        lambda v, _: event_service_pb2.StreamEventsRequest(preset_name=v),
        other=NOT_FOUND,
        owner=OK,
    ),
    Entry(
        "EventService/SaveFilterPreset",
        "preset.name",
        lambda o: o.preset_name,
        lambda v, _: event_service_pb2.SaveFilterPresetRequest(
            preset=event_service_pb2.FilterPreset(
                name=v, filter=event_service_pb2.EventFilter(symbols=["AAPL"])
            )
        ),
        other=OK,  # names are per user: the caller saves a preset of its own
        owner=OK,  # replaces it
    ),
    Entry(
        "EventService/SaveFilterPreset",
        "preset.filter.watchlist_ids",
        lambda o: o.watchlist_id,
        lambda v, own: event_service_pb2.SaveFilterPresetRequest(
            preset=event_service_pb2.FilterPreset(
                name=own.preset_name, filter=event_service_pb2.EventFilter(watchlist_ids=[v])
            )
        ),
        other=INVALID,
        owner=OK,
    ),
    _by_id("EventService", event_service_pb2.DeleteFilterPresetRequest, lambda o: o.preset_name),
    Entry(
        "PatternService/CreateAlertSubscription",
        "subscription.subscription_id",
        lambda o: o.subscription_id,
        lambda v, _: pattern_service_pb2.CreateAlertSubscriptionRequest(
            subscription=pattern_service_pb2.AlertSubscription(
                subscription_id=v, pattern_types=["Doji"], symbols=["AAPL"], min_confidence=0.5
            )
        ),
        other=OK,  # the id is assigned by the server: the caller gets a new subscription of its own
        owner=OK,
    ),
    _by_id("PatternService", pattern_service_pb2.DeleteAlertSubscriptionRequest, lambda o: o.subscription_id),
    Entry(
        "UniverseService/CreateWatchlist",
        "watchlist.watchlist_id",
        lambda o: o.watchlist_id,
        lambda v, _: universe_service_pb2.CreateWatchlistRequest(
            watchlist=_watchlist(watchlist_id=v, name=f"copy-{v[-12:]}", symbols=["AAPL"])
        ),
        other=OK,  # the id is assigned by the server: the caller gets a new watchlist of its own
        owner=OK,
    ),
    Entry(
        "UniverseService/CreateWatchlist",
        "watchlist.name",
        lambda o: o.watchlist_name,
        lambda v, _: universe_service_pb2.CreateWatchlistRequest(
            watchlist=_watchlist(name=v, symbols=["AAPL"])
        ),
        other=OK,  # names are unique per user, so another user's name is free (and its use leaks nothing)
        owner=grpc.StatusCode.ALREADY_EXISTS,
    ),
    _by_id("UniverseService", universe_service_pb2.GetWatchlistRequest, lambda o: o.watchlist_id),
    Entry(
        "UniverseService/UpdateWatchlist",
        "watchlist.watchlist_id",
        lambda o: o.watchlist_id,
        lambda v, _: universe_service_pb2.UpdateWatchlistRequest(
            watchlist=_watchlist(watchlist_id=v, symbols=["NVDA"]), update_mask=_mask("symbols")
        ),
        other=NOT_FOUND,
        owner=OK,
    ),
    Entry(
        "UniverseService/UpdateWatchlist",
        "watchlist.name",
        lambda o: o.watchlist_name,
        lambda v, own: universe_service_pb2.UpdateWatchlistRequest(
            watchlist=_watchlist(watchlist_id=own.watchlist_id, name=v), update_mask=_mask("name")
        ),
        other=OK,  # renames the caller's own watchlist: names are unique per user
        owner=OK,  # the name it already has
    ),
    _by_id("UniverseService", universe_service_pb2.DeleteWatchlistRequest, lambda o: o.watchlist_id),
    _by_id("BacktestService", backtest_service_pb2.GetBacktestRequest, lambda o: o.backtest_id),
    _by_id("BacktestService", backtest_service_pb2.CancelBacktestRequest, lambda o: o.backtest_id),
    _by_id("BacktestService", backtest_service_pb2.StreamBacktestRequest, lambda o: o.backtest_id),
)
"""Every request field naming a per-user resource, with the answers it gets."""

SHARED: dict[str, str] = {
    "UniverseService/GetUniverse:name": "universes are reference data, the same for every user",
}
"""Fields the naming rule matches that name shared resources, with the reason."""

SHARED_LISTS = frozenset({"UniverseService/ListSymbols", "UniverseService/ListUniverses"})
"""List methods of shared reference data."""


def methods() -> dict[str, MethodDescriptor]:
    """Every served tickstock method by "Service/Method"."""
    return {f"{service.name}/{method.name}": method for service in SERVICES for method in service.methods}


def _string_fields(message: Descriptor, prefix: str = "") -> Iterator[str]:
    for field in message.fields:
        path = prefix + field.name
        nested = field.message_type
        if nested is not None and nested.full_name.startswith("tickstock.v1."):
            yield from _string_fields(nested, f"{path}.")
        elif field.type == FieldDescriptor.TYPE_STRING:
            yield path


def resource_fields() -> set[str]:
    """The "Service/Method:field.path" of every request field that names a per-user resource.

    The rule: a string field, at any depth of the request's tickstock.v1 messages, whose name is `id`,
    `ids` or `name` or ends in `_id`, `_ids` or `_name` (`watchlist_id`, `watchlist_ids`, `preset_name`,
    a preset's or watchlist's `name`). Resources are named by ids and, where names are keys, by names;
    the few such fields of shared data are listed in `SHARED`. Tokens, symbols, universes (as filter
    terms), pattern types and time zones do not match.
    """
    return {
        f"{name}:{path}"
        for name, method in methods().items()
        for path in _string_fields(method.input_type)
        if _NAMES_A_RESOURCE.search(path.rsplit(".", 1)[-1])
    }


def list_methods() -> list[str]:
    """The List methods of per-user resources, found by name: each takes an empty request."""
    return sorted(
        name for name in methods() if name.split("/")[1].startswith("List") and name not in SHARED_LISTS
    )


def made_up(value: str) -> str:
    """A value of the same shape and length that names nothing: its last character changed."""
    return value[:-1] + ("0" if value[-1] != "0" else "1")
