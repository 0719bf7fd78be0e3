"""What every TickStockPL message parser shares: the reject error, size and JSON checks, reasons, times."""

from __future__ import annotations

import json
import re
from typing import Any, Final, TypeVar

from pydantic import ValidationError

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import MessageRejectedError
from tickstock_server.producer.models import MAX_EPOCH_S, MIN_EPOCH_S, StrictModel
from tickstock_server.support.time_units import NS_PER_US, US_PER_S

__all__ = [
    "BASE_REASONS",
    "DEFAULT_MAX_MESSAGE_BYTES",
    "check_event_type",
    "check_size",
    "decode_object",
    "epoch_ns",
    "envelope_epoch_s",
    "needs_general_path",
    "plausible_epoch_s",
    "rejection",
    "symbol",
    "validate",
]

_ModelT = TypeVar("_ModelT", bound=StrictModel)

DEFAULT_MAX_MESSAGE_BYTES: Final = 64 * 1024
"""Largest message accepted, in bytes; larger ones are rejected unparsed ("oversized")."""

BASE_REASONS: Final = frozenset(
    {
        "oversized",  # more than max_bytes; not parsed
        "not_json",  # not UTF-8 JSON (or nested too deeply for the parser)
        "non_finite_number",  # a NaN or Infinity literal anywhere in the message
        "not_object",  # JSON, but not an object
        "bad_unicode",  # a \\u escape of half a surrogate pair: a string no UTF-8 encoder accepts
        "bad_event_type",  # event_type is not a string
        "unknown_event_type",  # event_type names no event of this channel
        "bad_timestamp",  # an envelope timestamp used as the event's time is not a plausible epoch
    }
)
"""Reasons that come from the checks here rather than from a model field."""


class _NonFiniteError(ValueError):
    """The JSON holds a NaN or Infinity literal (Python's json accepts them; JSON does not)."""


def _reject_constant(name: str) -> Any:
    raise _NonFiniteError(name)


_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_STR: Final = re.compile(r"\\u[dD][89a-fA-F]")


def check_size(raw: bytes | str, max_bytes: int) -> None:
    """Reject `raw` if it is longer than `max_bytes` (UTF-8 bytes for a str) or a str that is not Unicode."""
    if isinstance(raw, bytes) or raw.isascii():
        size = len(raw)
    else:
        try:
            size = len(raw.encode("utf-8"))
        except UnicodeEncodeError:
            raise MessageRejectedError("bad_unicode", "lone surrogate in the message") from None
    if size > max_bytes:
        raise MessageRejectedError("oversized", f"{size} bytes > {max_bytes}")


def needs_general_path(raw: bytes | str) -> bool:
    """Whether `raw` may hold what pydantic's JSON parser accepts but `decode_object` rejects.

    That is a NaN or Infinity literal, or a backslash-u escape of a surrogate (valid only in pairs). The
    check is coarse (the words may sit inside a harmless string, and any backslash-u escape counts): such
    messages merely take the slower path.
    """
    # Three substring scans beat one regex alternation; any \\u escape (rare) takes the slow path.
    if isinstance(raw, bytes):
        return b"NaN" in raw or b"Infinity" in raw or b"\\u" in raw
    return "NaN" in raw or "Infinity" in raw or "\\u" in raw


def decode_object(raw: bytes | str) -> dict[str, Any]:
    """Decode `raw` (size already checked) as a JSON object."""
    try:
        message = _DECODER.decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except _NonFiniteError as exc:
        raise MessageRejectedError("non_finite_number", str(exc)) from None
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors, as is an integer literal over Python's
        # 4300-digit limit; RecursionError is an array or object nested thousands deep.
        raise MessageRejectedError("not_json", type(exc).__name__) from None
    if type(message) is not dict:
        raise MessageRejectedError("not_object", type(message).__name__)
    escaped = _SURROGATE_ESCAPE.search(raw) if isinstance(raw, bytes) else _SURROGATE_ESCAPE_STR.search(raw)
    if escaped is not None:
        # json decodes a lone "\\ud800" into a str that later fails every encode (Redis, protobuf, logs).
        try:
            json.dumps(message, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise MessageRejectedError("bad_unicode", "lone surrogate escape") from None
    return message


def validate(model: type[_ModelT], payload: Any) -> _ModelT:
    """`payload` validated by `model`; the first error's top-level field names the reject reason."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise rejection(exc) from None


def rejection(exc: ValidationError) -> MessageRejectedError:
    """The `MessageRejectedError` for a validation error: ``missing_<field>`` or ``bad_<field>``."""
    error = exc.errors(include_url=False, include_context=False, include_input=False)[0]
    location = error["loc"]
    field = str(location[0]) if location else "message"
    prefix = "missing" if error["type"] == "missing" else "bad"
    return MessageRejectedError(f"{prefix}_{field}", f"{'.'.join(map(str, location))}: {error['msg']}")


def check_event_type(event_type: object, accepted: frozenset[str]) -> None:
    """Reject an `event_type` that is not a string of `accepted`."""
    if type(event_type) is not str:  # also keeps unhashable values away from the set lookup
        raise MessageRejectedError("bad_event_type")
    if event_type not in accepted:
        raise MessageRejectedError("unknown_event_type", event_type[:64])


def symbol(value: str, reason: str) -> str:
    """`value` upper-cased if it is a ticker (`is_symbol`); else rejected with `reason`."""
    upper = value.upper()
    if not is_symbol(upper):
        raise MessageRejectedError(reason, repr(value[:32]))
    return upper


def envelope_epoch_s(value: object) -> float:
    """An envelope's ``timestamp`` (epoch seconds), checked; used when the event has no time of its own."""
    if (type(value) is float or type(value) is int) and plausible_epoch_s(value):  # type(): not bool
        return value
    raise MessageRejectedError("bad_timestamp", repr(value)[:64])


def epoch_ns(epoch_s: float) -> int:
    """Epoch seconds to epoch ns, rounded to whole microseconds.

    A float of today's epoch seconds resolves about 0.2 us; microseconds are exact in a float until 2255, so
    1767700000.25 becomes exactly ...250000000 ns rather than a value up to 128 ns off.
    """
    return round(epoch_s * US_PER_S) * NS_PER_US


def plausible_epoch_s(value: float) -> bool:
    """Whether `value` is epoch seconds in 2000-2100 (false for NaN)."""
    return MIN_EPOCH_S <= value <= MAX_EPOCH_S
