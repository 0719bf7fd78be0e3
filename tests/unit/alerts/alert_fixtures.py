"""Alert subscriptions, patterns and routers for the alert unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from factories import NS_PER_S, ns_at

from tickstock_server.alerts.router import AlertRouter
from tickstock_server.alerts.stream import (
    AlertHeartbeat,
    AlertStream,
    AlertStreamEnded,
    AlertStreamItem,
)
from tickstock_server.domain.alerts import (
    AlertSubscription,
    QuietHours,
    TimeOfDay,
)
from tickstock_server.domain.patterns import Pattern, PatternSource
from tickstock_server.errors import NotFoundError

NOW_NS = ns_at("2026-01-06T15:00:00")
"""Tuesday 2026-01-06 10:00 in New York (EST, UTC-5)."""
HOUR_NS = 3600 * NS_PER_S
HEARTBEAT_S = 0.01

UNIVERSES = {"tech": frozenset({"AAPL", "MSFT"}), "energy": frozenset({"XOM"}), "empty": frozenset()}


async def resolve(names: Sequence[str]) -> frozenset[str]:
    missing = [name for name in names if name not in UNIVERSES]
    if missing:
        raise NotFoundError(f"unknown universe {missing[0]!r}")
    return frozenset().union(*(UNIVERSES[name] for name in names))


def make_pattern(symbol: str = "AAPL", pattern_type: str = "Bull_Flag", confidence: float = 0.8) -> Pattern:
    return Pattern(
        pattern_id=f"{symbol}-{pattern_type}-{confidence}",
        symbol=symbol,
        pattern_type=pattern_type,
        confidence=confidence,
        price=100.0,
        price_change_pct=1.5,
        detected_ns=NOW_NS,
        expires_ns=NOW_NS + HOUR_NS,
        timeframe=None,
        source=PatternSource.PRODUCER,
    )


def make_subscription(
    subscription_id: str = "alrt_a", user: str = "alice", **overrides: Any
) -> AlertSubscription:
    return AlertSubscription(subscription_id=subscription_id, user=user, **overrides)


def quiet(start: str, end: str) -> QuietHours:
    """Quiet hours from "HH:MM" strings."""
    (start_h, start_m), (end_h, end_m) = (map(int, start.split(":")), map(int, end.split(":")))
    return QuietHours(
        start=TimeOfDay(hours=start_h, minutes=start_m), end=TimeOfDay(hours=end_h, minutes=end_m)
    )


async def make_router(*subscriptions: AlertSubscription, **options: Any) -> AlertRouter:
    router = AlertRouter(resolver=resolve, **options)
    for subscription in subscriptions:
        await router.activate(subscription)
    return router


async def drain(stream: AlertStream) -> list[AlertStreamItem]:
    """Receive until a heartbeat or the end; return what came before it."""
    items: list[AlertStreamItem] = []
    while True:
        item = await stream.receive(HEARTBEAT_S)
        if isinstance(item, AlertHeartbeat | AlertStreamEnded):
            return items
        items.append(item)
