"""Massive WebSocket frames to ticks: the one parser shared by the live feed and its replay."""

from __future__ import annotations

import enum
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import msgspec

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_typed import MAX_VOLUME, typed_ticks
from tickstock_server.support.time_units import NS_PER_MS

__all__ = ["OK_STATUSES", "MassiveFrameParser", "RejectReason"]

_logger = logging.getLogger(__name__)

_EXCERPT_CHARS = 200
_FLOAT_LIMIT = 2**1023
"""Integers from here up may overflow a float (json reads integer literals of any length)."""

_decode = msgspec.json.Decoder().decode

OK_STATUSES = frozenset({"connected", "auth_success", "success"})
"""Status values that mean things are working (as in the massive client); others are logged as warnings."""


class RejectReason(enum.StrEnum):
    """Why a frame or an event was skipped; the keys of `MassiveFrameParser.rejected`."""

    INVALID_JSON = "invalid_json"
    """The frame is not valid JSON (or not UTF-8, or nested too deeply to decode): the whole frame is
    skipped."""
    NOT_AN_ARRAY = "not_an_array"
    """The frame is valid JSON but not an array of events: the whole frame is skipped."""
    NOT_AN_OBJECT = "not_an_object"
    """An element of the array is not a JSON object."""
    UNKNOWN_EVENT = "unknown_event"
    """The event type `ev` is not one this parser maps (A, AM, T, Q, status)."""
    MISSING_FIELD = "missing_field"
    """A required field of the event type is absent."""
    BAD_VALUE = "bad_value"
    """A field has the wrong type or range: a price that is not a finite number > 0, a volume that is
    negative, fractional or above 2**63 - 1, a time stamp that is not an integer > 0, a symbol that is
    not a ticker (`is_symbol` once upper-cased: no empty, overlong or non-ASCII symbols, which no later
    layer can carry)."""


class _BadValueError(Exception):
    """A field value is out of type or range (internal: becomes `RejectReason.BAD_VALUE`)."""


def _price(value: Any) -> float:
    # Exact type checks: json.loads gives float or int, and bool (an int subclass) is not a price.
    if type(value) is float:
        if 0.0 < value < math.inf:  # also false for NaN
            return value
    elif type(value) is int and 0 < value < _FLOAT_LIMIT:  # larger ints have no float
        return float(value)
    raise _BadValueError


def _optional_price(value: Any) -> float | None:
    # Massive sends 0 (or nothing) for a day statistic it does not know yet, e.g. `op` before the open.
    if value is None or value == 0:
        return None
    return _price(value)


def _volume(value: Any) -> int:
    # At most int64's largest value: volumes end up in PostgreSQL bigint columns and protobuf int64s.
    if type(value) is int:
        if 0 <= value <= MAX_VOLUME:
            return value
    elif type(value) is float and 0.0 <= value <= MAX_VOLUME and value.is_integer():  # false for NaN
        return int(value)
    raise _BadValueError


def _optional_volume(value: Any) -> int | None:
    return None if value is None else _volume(value)


def _ts_ns(value_ms: Any) -> int:
    if type(value_ms) is int:
        if value_ms > 0:
            return value_ms * NS_PER_MS
    elif type(value_ms) is float and value_ms > 0.0 and value_ms.is_integer():
        return int(value_ms) * NS_PER_MS
    raise _BadValueError


def _symbol(value: Any) -> str:
    if type(value) is str:
        upper = value.upper()
        if is_symbol(upper):
            return upper
    raise _BadValueError


def _aggregate_tick(event: dict[str, Any], received_ns: int | None) -> Tick:
    # A (per second) and AM (per minute): the close is the price; `a` is the day VWAP (`vw` is the
    # aggregate's own VWAP and is not used).
    ts_ns = _ts_ns(event["e"])
    return Tick(
        symbol=_symbol(event["sym"]),
        price=_price(event["c"]),
        volume=_volume(event["v"]),
        ts_ns=ts_ns,
        received_ns=ts_ns if received_ns is None else received_ns,
        vwap=_optional_price(event.get("a")),
        open_price=_optional_price(event.get("op")),
        accumulated_volume=_optional_volume(event.get("av")),
    )


def _trade_tick(event: dict[str, Any], received_ns: int | None) -> Tick:
    ts_ns = _ts_ns(event["t"])
    return Tick(
        symbol=_symbol(event["sym"]),
        price=_price(event["p"]),
        volume=_volume(event["s"]),
        ts_ns=ts_ns,
        received_ns=ts_ns if received_ns is None else received_ns,
    )


def _quote_tick(event: dict[str, Any], received_ns: int | None) -> Tick:
    # The midpoint stands in for a price; a quote carries no traded volume. `_price` rejects a side <= 0.
    ts_ns = _ts_ns(event["t"])
    return Tick(
        symbol=_symbol(event["sym"]),
        price=(_price(event["bp"]) + _price(event["ap"])) / 2.0,
        volume=0,
        ts_ns=ts_ns,
        received_ns=ts_ns if received_ns is None else received_ns,
    )


_MAPPERS: dict[str, Callable[[dict[str, Any], int | None], Tick]] = {
    "A": _aggregate_tick,
    "AM": _aggregate_tick,
    "T": _trade_tick,
    "Q": _quote_tick,
}


def _excerpt(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= _EXCERPT_CHARS else text[:_EXCERPT_CHARS] + "..."


class MassiveFrameParser:
    """Turns raw Massive frames (the text of a JSON array of events) into ticks.

    Mapping (wire time stamps are epoch milliseconds; ticks carry nanoseconds):

    - A and AM: price `c`, volume `v`, time `e` (the aggregate's end), vwap `a` (day VWAP),
      open_price `op`, accumulated_volume `av`. A missing or zero `a`/`op` means unknown (None).
    - T: price `p`, volume `s`, time `t`.
    - Q: price `(bp + ap) / 2`, volume 0, time `t`; a quote with a side <= 0 is rejected.
    - Every type: symbol `sym`, upper-cased.

    Malformed frames and events are skipped and counted in `rejected` by `RejectReason`, never raised;
    the valid events of a frame still come through. Each reason is logged at WARNING at most once per
    `warn_interval_s`. Status events (`ev` = "status") are counted in `statuses` by status value, and a
    status outside `OK_STATUSES` is logged at WARNING at most once per value per `warn_interval_s`.

    The parser does no I/O besides logging and reads no clock except for rate-limiting those warnings,
    so the same frames always give the same ticks.
    """

    def __init__(
        self, *, warn_interval_s: float = 60.0, monotonic_s: Callable[[], float] = time.monotonic
    ) -> None:
        """Create a parser with zeroed counters.

        Args:
            warn_interval_s: Shortest time between two warnings for the same reason or status, seconds.
            monotonic_s: Clock for that rate limit, seconds (injectable for tests).
        """
        self._warn_interval_s = warn_interval_s
        self._monotonic_s = monotonic_s
        self._rejected: Counter[str] = Counter()
        self._statuses: Counter[str] = Counter()
        self._last_warned_s: dict[str, float] = {}
        self._symbols: dict[str, str] = {}
        self.frames_parsed = 0
        """Frames handed to `parse`, valid or not."""
        self.ticks_parsed = 0
        """Ticks returned by `parse`."""

    @property
    def rejected(self) -> Mapping[str, int]:
        """Skipped frames and events by `RejectReason` value (read-only live view)."""
        return MappingProxyType(self._rejected)

    @property
    def statuses(self) -> Mapping[str, int]:
        """Status events by status value, e.g. {"success": 1} (read-only live view)."""
        return MappingProxyType(self._statuses)

    def parse(self, frame: str | bytes, received_ns: int | None) -> list[Tick]:
        """Return the ticks of one frame, in the order of its events.

        Args:
            frame: The frame's text (bytes are decoded as JSON text, UTF-8).
            received_ns: Wall-clock time the frame arrived, UTC epoch nanoseconds, stamped on every
                tick; None stamps each tick with its own event time (deterministic replay).
        """
        self.frames_parsed += 1
        # None unless every event is a valid A, AM, T or Q.
        ticks = typed_ticks(frame, received_ns, self._symbols)
        if ticks is None:
            ticks = self.parse_general(frame, received_ns)
        self.ticks_parsed += len(ticks)
        return ticks

    def parse_general(self, frame: str | bytes, received_ns: int | None) -> list[Tick]:
        """`parse` without its typed fast path (which is only ever a faster way to the same ticks).

        Counts and logs rejections and statuses; does not count the frame or its ticks.
        """
        try:
            events = _decode(frame)
        except (ValueError, RecursionError):  # msgspec's DecodeError and ValidationError; deep nesting
            # msgspec is strict JSON; `json` also reads NaN, Infinity and out-of-range numbers, which
            # must reach the field checks (BAD_VALUE, not INVALID_JSON). It is the final word on a frame.
            try:
                events = json.loads(frame)
            except (ValueError, RecursionError):
                # JSONDecodeError and UnicodeDecodeError are ValueErrors; RecursionError is an array or
                # object nested about a thousand deep, which must not end the feed like any other bad frame.
                self._reject(RejectReason.INVALID_JSON, frame)
                return []
        if type(events) is not list:
            self._reject(RejectReason.NOT_AN_ARRAY, frame)
            return []
        ticks: list[Tick] = []
        for event in events:
            if type(event) is not dict:
                self._reject(RejectReason.NOT_AN_OBJECT, event)
                continue
            ev = event.get("ev")
            mapper = _MAPPERS.get(ev) if type(ev) is str else None
            if mapper is None:
                if ev == "status":
                    self._status(event)
                elif ev is None:
                    self._reject(RejectReason.MISSING_FIELD, event)
                else:
                    self._reject(RejectReason.UNKNOWN_EVENT, event)
                continue
            try:
                ticks.append(mapper(event, received_ns))
            except KeyError:
                self._reject(RejectReason.MISSING_FIELD, event)
            except _BadValueError:
                self._reject(RejectReason.BAD_VALUE, event)
        return ticks

    def _reject(self, reason: RejectReason, culprit: object) -> None:
        key = reason.value
        self._rejected[key] += 1
        if self._due(key):
            _logger.warning(
                "Skipped a Massive frame or event as %s: %d so far (this warning repeats at most every "
                "%.0f s; every one is counted in tickstock_feed_rejected)",
                key,
                self._rejected[key],
                self._warn_interval_s,
            )
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("Skipped as %s: %s", key, _excerpt(culprit))

    def _status(self, event: dict[str, Any]) -> None:
        status = str(event.get("status"))
        self._statuses[status] += 1
        if status in OK_STATUSES:
            _logger.debug("Massive status %s: %s", status, _excerpt(event.get("message")))
        elif self._due("status:" + status):
            _logger.warning(
                "Massive server status %s: %s (%d so far)",
                status,
                _excerpt(event.get("message")),
                self._statuses[status],
            )

    def _due(self, key: str) -> bool:
        """True (and the clock restarted) when `key` was last warned about long enough ago."""
        now_s = self._monotonic_s()
        last_s = self._last_warned_s.get(key)
        if last_s is not None and now_s - last_s < self._warn_interval_s:
            return False
        self._last_warned_s[key] = now_s
        return True
