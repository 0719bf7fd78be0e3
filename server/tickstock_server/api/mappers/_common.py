"""Helpers every mapper shares: times and durations, and one page-token codec."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from google.protobuf.message import Message

from tickstock_server.errors import FieldViolation, InvalidRequestError
from tickstock_server.support.time_units import NS_PER_S


def timestamp_from_ns(ts_ns: int) -> timestamp_pb2.Timestamp:
    """UTC epoch nanoseconds to a Timestamp."""
    seconds, nanos = divmod(ts_ns, NS_PER_S)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def duration_from_ns(span_ns: int) -> duration_pb2.Duration:
    """Nanoseconds (>= 0) to a Duration."""
    seconds, nanos = divmod(span_ns, NS_PER_S)
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


Cursor = tuple[int | str, ...]
"""Where a page ends: the values of its last item's sort key (for example a time and an id)."""

_CHECK_CHARS = 16
"""Hex digits of the SHA-256 check a page token carries."""


def request_binding(request: Message, *context: str) -> str:
    """What a page token is bound to: the request without its paging fields, plus `context` (the user).

    A token then only continues the same query: a different filter, order, range or caller is refused.
    """
    copy = type(request)()
    copy.CopyFrom(request)
    for field in ("page_token", "page_size"):
        if field in copy.DESCRIPTOR.fields_by_name:
            copy.ClearField(field)
    digest = hashlib.sha256(copy.SerializeToString(deterministic=True))
    for part in context:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def _check(binding: str, values: list[int | str]) -> str:
    payload = json.dumps([binding, values], separators=(",", ":")).encode()
    return hashlib.sha256(payload).hexdigest()[:_CHECK_CHARS]


def encode_page_token(binding: str, cursor: Cursor) -> str:
    """An opaque token for the page after `cursor`, valid only with the same `binding`.

    The token carries the cursor and a check over the cursor and the binding, so a token of another
    query, or one edited or truncated on the way, is refused instead of continuing somewhere else.
    """
    values = list(cursor)
    body = json.dumps({"c": values, "h": _check(binding, values)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_page_token(token: str, binding: str, shape: tuple[type[int] | type[str], ...]) -> Cursor:
    """The cursor of a token that `encode_page_token` made for the same `binding`.

    Raises:
        InvalidRequestError: On `page_token` when the token is malformed, altered, of another shape, or
            issued for another request. The caller still checks the values' ranges.
    """
    try:
        body: Any = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        body = None
    values = body.get("c") if isinstance(body, dict) else None
    if (
        not isinstance(values, list)
        or len(values) != len(shape)
        or not all(type(value) is kind for value, kind in zip(values, shape, strict=True))
        or body.get("h") != _check(binding, values)
    ):
        raise InvalidRequestError([FieldViolation("page_token", BAD_PAGE_TOKEN)])
    return tuple(values)


BAD_PAGE_TOKEN = "not a page token of this request: repeat the request without page_token"
