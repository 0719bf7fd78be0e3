"""The typed fast path of the Massive frame parser: frames whose every event is a valid A, AM, T or Q.

msgspec decodes such a frame straight into the structs of `massive_structs` (no dict per event), and
`typed_ticks` checks the ranges the structs' types leave open. Any other frame (a status event, an
unknown or malformed event, a value out of type or range, NaN or Infinity) makes `typed_ticks` return
None, and the parser then takes its general path, which counts and logs every rejection by reason; so
the fast path never changes what a frame yields.
"""

from __future__ import annotations

from typing import Final

import msgspec

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_structs import Aggregate, MinuteAggregate, Quote, Trade
from tickstock_server.support.time_units import NS_PER_MS

__all__ = ["MAX_CACHED_SYMBOLS", "MAX_VOLUME", "typed_ticks"]

MAX_VOLUME: Final = 2**63 - 1
"""The largest volume a tick may carry: it goes to bigint columns and protobuf int64 fields."""

MAX_CACHED_SYMBOLS: Final = 65_536
"""Bound of a symbol cache (`typed_ticks`' `symbols`); a full cache is emptied and fills again. The US
equity universe is about 11,000 symbols, so a live feed never reaches it."""


_decode: Final = msgspec.json.Decoder(list[Aggregate | MinuteAggregate | Trade | Quote]).decode


def typed_ticks(frame: str | bytes, received_ns: int | None, symbols: dict[str, str]) -> list[Tick] | None:
    """The frame's ticks when every event is a valid A, AM, T or Q event, else None (see the module docs).

    The mapping is `MassiveFrameParser`'s; a float from msgspec is always finite (strict JSON).
    `symbols` caches each wire symbol seen before as its checked, upper-case form (at most
    `MAX_CACHED_SYMBOLS`): a repeated symbol costs one lookup instead of `upper` and `is_symbol`, and
    every tick of a symbol carries the same string object, which the detectors' dictionaries then find
    by identity.
    """
    try:
        events = _decode(frame)
    except (msgspec.DecodeError, RecursionError):  # also ValidationError; RecursionError: deep nesting
        return None
    ticks: list[Tick] = []
    append = ticks.append
    for event in events:
        wire = event.sym
        symbol = symbols.get(wire)
        if symbol is None:
            symbol = wire.upper()
            if not is_symbol(symbol):
                return None
            if len(symbols) >= MAX_CACHED_SYMBOLS:
                symbols.clear()
            symbols[wire] = symbol
        if isinstance(event, Aggregate):
            ts_ms, price, volume = event.e, event.c, event.v
            vwap, open_price, day_volume = event.a, event.op, event.av
            # A zero (or absent) day statistic means unknown; a negative one is bad.
            if (vwap is not None and vwap < 0.0) or (open_price is not None and open_price < 0.0):
                return None
            if day_volume is not None and day_volume < 0:
                return None
        else:
            vwap = open_price = None
            day_volume = None
            ts_ms = event.t
            if isinstance(event, Trade):
                price, volume = event.p, event.s
            else:
                if not (event.bp > 0.0 and event.ap > 0.0):
                    return None
                price, volume = (event.bp + event.ap) / 2.0, 0
        if not (price > 0.0 and 0 <= volume <= MAX_VOLUME and ts_ms > 0):
            return None
        if day_volume is not None and day_volume > MAX_VOLUME:
            return None
        ts_ns = ts_ms * NS_PER_MS
        append(
            Tick(
                symbol=symbol,
                price=price,
                volume=volume,
                ts_ns=ts_ns,
                received_ns=ts_ns if received_ns is None else received_ns,
                vwap=vwap or None,
                open_price=open_price or None,
                accumulated_volume=day_volume,
            )
        )
    return ticks
