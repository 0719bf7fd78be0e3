"""Fuzz targets of the RPCs whose only field is an id: GetWatchlist, DeleteWatchlist, DeleteAlertSubscription,
GetBacktest, CancelBacktest and StreamBacktest.

Each runs what its servicer runs (the proto's limits, the service call, the response mapper) over
in-memory stores that hold one resource of the caller (alice) and one of another user (bob). Besides
the checks of the other request targets, the answer must fit the id: alice's id is accepted, every
other id is refused, and bob's id gets NOT_FOUND, as an id of nothing does. Anything else is a crash
(`TargetBroken`). A delete or cancel that succeeds is undone (the stores are rebuilt), so alice's id
keeps its meaning.

Two thirds of the inputs are seeded mutations of a request with alice's id, as for the other request
targets; the rest carry an id picked to hurt: bob's, alice's with one character changed or a NUL put
in, alice's padded to the 64-character limit and past it, random code points of lengths around the
limit (up to 70,000), NULs only, and bytes that are not UTF-8.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fuzz_inputs import Generator, proto_generator
from fuzz_requests import ACCEPTED, RequestPath
from fuzz_target import Target, TargetBroken
from google.protobuf.message import Message

from tickstock.v1 import backtest_service_pb2, pattern_service_pb2, universe_service_pb2
from tickstock_server.adapters.memory.alerts import MemoryAlertStore
from tickstock_server.adapters.memory.backtests import MemoryBacktestRequests, MemoryBacktestStore
from tickstock_server.adapters.memory.universes import MemoryUniverses, MemoryWatchlists
from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.service import AlertService
from tickstock_server.api.mappers.backtest_service import backtest_to_proto
from tickstock_server.api.mappers.universe_service import watchlist_to_proto
from tickstock_server.backtests.jobs import BacktestJobs
from tickstock_server.domain.alerts import AlertSubscription
from tickstock_server.domain.backtests import Backtest, BacktestParameters, BacktestState
from tickstock_server.domain.universes import SymbolInfo, Watchlist
from tickstock_server.universes.service import Watchlists

_USER, _OTHER = "alice", "bob"
_NOW_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z
_MAX_ID_CHARS = 64
"""The proto's limit of every id field (`buf.validate` max_len)."""
_ID_LENGTHS = (0, 1, 2, 16, 36, 63, 64, 65, 128, 1000, 70_000)

_WATCHLISTS = {
    user: Watchlist(
        watchlist_id=watchlist_id,
        user=user,
        name="tech",
        symbols=("NVDA",),
        create_ns=_NOW_NS,
        update_ns=_NOW_NS,
    )
    for user, watchlist_id in (
        (_USER, "0b6f6c9e-5d0a-4f57-9a43-1c2d3e4f5a6b"),
        (_OTHER, "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"),
    )
}
_SUBSCRIPTIONS = {
    user: AlertSubscription(
        subscription_id=subscription_id, user=user, pattern_types=("Doji",), create_ns=_NOW_NS
    )
    for user, subscription_id in ((_USER, "alrt_Ab3dE5gH7jK9mN1p"), (_OTHER, "alrt_Zy8xW6vU4tS2rQ0o"))
}
_BACKTESTS = {
    user: Backtest(
        backtest_id=backtest_id,
        user=user,
        state=BacktestState.QUEUED,
        symbols=("AAPL",),
        start_date=dt.date(2025, 1, 2),
        end_date=dt.date(2025, 12, 31),
        patterns=("Doji",),
        parameters=BacktestParameters(),
        create_ns=_NOW_NS,
        update_ns=_NOW_NS,
    )
    for user, backtest_id in (
        (_USER, "backtest_1767700800_00112233aabbccdd"),
        (_OTHER, "backtest_1767700800_ffeeddccbbaa9988"),
    )
}


class _Stores:
    """Services over in-memory stores holding one watchlist, alert subscription and backtest of each user."""

    def __init__(self) -> None:
        universes = MemoryUniverses({}, symbols=[SymbolInfo(symbol="NVDA", name="NVIDIA", exchange="XNAS")])
        self.watchlists = Watchlists(
            MemoryWatchlists(_WATCHLISTS.values(), clock_ns=lambda: _NOW_NS), symbols=universes
        )
        self.alerts = AlertService(
            store=MemoryAlertStore(_SUBSCRIPTIONS.values()),
            universes=universes,
            router=AlertRouter(resolver=universes.resolve),
        )
        store = MemoryBacktestStore()
        store.rows.update({backtest.backtest_id: backtest for backtest in _BACKTESTS.values()})
        self.jobs = BacktestJobs(
            store=store, publisher=MemoryBacktestRequests(), clock_ns=itertools.count(_NOW_NS, 1_000).__next__
        )


async def _get_watchlist(stores: _Stores, watchlist_id: str) -> None:
    watchlist_to_proto(await stores.watchlists.get(_USER, watchlist_id))


async def _delete_watchlist(stores: _Stores, watchlist_id: str) -> None:
    await stores.watchlists.delete(_USER, watchlist_id)


async def _delete_alert_subscription(stores: _Stores, subscription_id: str) -> None:
    await stores.alerts.delete(_USER, subscription_id)


async def _get_backtest(stores: _Stores, backtest_id: str) -> None:
    backtest_to_proto(await stores.jobs.service.get(_USER, backtest_id))


async def _cancel_backtest(stores: _Stores, backtest_id: str) -> None:
    backtest_to_proto(await stores.jobs.service.cancel(_USER, backtest_id))


async def _stream_backtest(stores: _Stores, backtest_id: str) -> None:
    # The stream's first message (the current state); the servicer's generator is then closed, as when
    # the client goes away.
    async with contextlib.aclosing(stores.jobs.service.watch(_USER, backtest_id)) as states:
        backtest_to_proto(await anext(states))


@dataclass(frozen=True)
class IdRpc:
    """An RPC whose only field is an id, and the servicer's path for it."""

    request_type: type[Message]
    field: str
    ids: dict[str, str]
    """The id of each user's resource, by user."""
    handle: Callable[[_Stores, str], Awaitable[None]]
    changes: bool = False
    """Whether accepting the request changes the resource (so the stores are rebuilt after)."""

    def request(self, resource_id: str) -> Message:
        """The request with `resource_id`."""
        return self.request_type(**{self.field: resource_id})


_IDS: dict[str, dict[str, str]] = {
    "watchlist_id": {user: w.watchlist_id for user, w in _WATCHLISTS.items()},
    "subscription_id": {user: s.subscription_id for user, s in _SUBSCRIPTIONS.items()},
    "backtest_id": {user: b.backtest_id for user, b in _BACKTESTS.items()},
}
"""Each user's id of each resource type, by the id field's name."""


def _rpc(
    request_type: type[Message], handle: Callable[[_Stores, str], Awaitable[None]], **options: bool
) -> IdRpc:
    (field,) = request_type.DESCRIPTOR.fields
    return IdRpc(request_type, field.name, _IDS[field.name], handle, **options)


ID_RPCS: dict[str, IdRpc] = {
    "GetWatchlist": _rpc(universe_service_pb2.GetWatchlistRequest, _get_watchlist),
    "DeleteWatchlist": _rpc(universe_service_pb2.DeleteWatchlistRequest, _delete_watchlist, changes=True),
    "DeleteAlertSubscription": _rpc(
        pattern_service_pb2.DeleteAlertSubscriptionRequest, _delete_alert_subscription, changes=True
    ),
    "GetBacktest": _rpc(backtest_service_pb2.GetBacktestRequest, _get_backtest),
    "CancelBacktest": _rpc(backtest_service_pb2.CancelBacktestRequest, _cancel_backtest, changes=True),
    "StreamBacktest": _rpc(backtest_service_pb2.StreamBacktestRequest, _stream_backtest),
}
"""Every RPC whose request has one field, an id looked up in a per-user store."""


def _code_points(rng: random.Random, length: int) -> str:
    """`length` code points from ASCII, Latin, CJK, private use and emoji, NUL and controls included (no
    surrogates): up to 64 random ones, repeated to the length (long ids must cost the product, not us)."""
    ranges = ((0, 0x7F), (0x80, 0x24F), (0x4E00, 0x9FFF), (0x1F300, 0x1FAFF), (0xE000, 0xFFFF))
    chunk = "".join(chr(rng.randint(*rng.choice(ranges))) for _ in range(min(length, 64)))
    return (chunk * (length // 64 + 1))[:length]


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _odd_id(rng: random.Random, rpc: IdRpc) -> bytes:
    """A request whose id is picked to hurt (see the module docstring)."""
    own, other = rpc.ids[_USER], rpc.ids[_OTHER]
    at = rng.randrange(len(own))
    choice = rng.randrange(8)
    if choice == 0:
        value = other
    elif choice == 1:
        value = own[:at] + _code_points(rng, 1) + own[at + 1 :]
    elif choice == 2:
        value = own[:at] + "\0" + own[at:]
    elif choice == 3:
        value = (own * (_MAX_ID_CHARS // len(own) + 2))[
            : rng.choice((_MAX_ID_CHARS - 1, _MAX_ID_CHARS, _MAX_ID_CHARS + 1))
        ]
    elif choice == 4:
        value = _code_points(rng, rng.choice(_ID_LENGTHS))
    elif choice == 5:
        value = "\0" * rng.choice(_ID_LENGTHS)
    elif choice == 6:
        value = rng.choice((own.upper(), f" {own}", f"{own} ", own[:-1], f"{own}\n", other[:-1] + own[-1]))
    else:  # bytes that are not text: the request does not decode
        payload = rng.randbytes(rng.choice(_ID_LENGTHS[1:8]))
        number = rpc.request_type.DESCRIPTOR.fields_by_name[rpc.field].number
        return _varint(number << 3 | 2) + _varint(len(payload)) + payload
    return rpc.request(value).SerializeToString()


def id_generator(rpc: IdRpc) -> Generator:
    """Two thirds mutations of the request with alice's id, one third odd ids."""
    mutated = proto_generator([rpc.request(rpc.ids[_USER])])

    def generate(rng: random.Random) -> bytes:
        return _odd_id(rng, rpc) if rng.random() < 1 / 3 else mutated(rng)

    return generate


def id_target(name: str) -> Callable[[], Target]:
    """Requests of one id-only RPC through its servicer's path; the answer must fit the id's owner."""
    rpc = ID_RPCS[name]

    def build() -> Target:
        loop = asyncio.new_event_loop()
        stores = [_Stores()]

        async def handle(request: Message) -> None:
            await rpc.handle(stores[0], getattr(request, rpc.field))

        path = RequestPath(rpc.request_type, handle, loop)

        def run(raw: bytes) -> int:
            request, answer = path.answer(raw)
            if request is None:
                return 1
            value = getattr(request, rpc.field)
            if (answer == ACCEPTED) != (value == rpc.ids[_USER]):
                raise TargetBroken(f"{answer} for id {value[:80]!r}: only the caller's own id is accepted")
            if value == rpc.ids[_OTHER] and answer != "NOT_FOUND":
                raise TargetBroken(f"{answer} for another user's id: it must be NOT_FOUND, as an unknown id")
            if answer != ACCEPTED:
                return 1
            if rpc.changes:
                stores[0] = _Stores()
            return 0

        return Target(
            generate=id_generator(rpc), run=run, counted=None, close=loop.close, reasons=lambda: path.rejected
        )

    return build


ID_TARGETS: dict[str, Callable[[], Target]] = {f"request_{name}": id_target(name) for name in ID_RPCS}
"""Id-only request targets by name."""
