"""What every detector does the same way: session change, VWAP divergence, usable prices, stored volumes."""

from __future__ import annotations

import math

from tickstock_server.domain.events import MarketStatus
from tickstock_server.domain.market_session import MarketSession
from tickstock_server.domain.tick import Tick

__all__ = ["MAX_STORED_VOLUME", "session_percent_change", "usable_price", "vwap_divergence"]

MAX_STORED_VOLUME = 2**63 - 1
"""Detectors keep volumes in packed signed 64-bit arrays: a larger (one-second) volume is stored as this."""


def usable_price(optional_price: float | None) -> float | None:
    """The feed price (open, VWAP) when present, positive and finite; None otherwise.

    Feeds send 0 (or NaN) for a day statistic they do not know yet, which means "unknown".
    """
    return optional_price if optional_price is not None and 0.0 < optional_price < math.inf else None


def session_percent_change(tick: Tick, session: MarketSession, first_price: float) -> float:
    """Percent change of the tick's price against the session's base price.

    The base is the day's official open in the regular session when the feed provides it (original
    `get_base_price`), otherwise the first price the detector saw in the session.
    """
    base_price = first_price
    open_price = usable_price(tick.open_price)
    if session.status is MarketStatus.REGULAR and open_price is not None:
        base_price = open_price
    return (tick.price - base_price) / base_price * 100.0 if base_price > 0 else 0.0


def vwap_divergence(price: float, vwap: float | None) -> float:
    """(price - vwap) / vwap in percent; 0 without a VWAP."""
    return (price - vwap) / vwap * 100.0 if vwap is not None else 0.0
