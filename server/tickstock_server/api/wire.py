"""Builds `StreamEventsResponse` bytes around events that were serialised once, in the event log.

Protobuf concatenation rules make this exact: a repeated message field is the concatenation of its
length-delimited entries, so a batch can be framed around pre-encoded `Event` bytes without parsing them.
Tests check the result against the generated code's own serialisation.
"""

from __future__ import annotations

from collections.abc import Sequence

_LEN = 2  # wire type of length-delimited fields
_BATCH_EVENTS = 1  # EventBatch.events
_BATCH_RESUME_TOKEN = 2  # EventBatch.resume_token
_RESPONSE_EVENT_BATCH = 2  # StreamEventsResponse.event_batch


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LEN) + _varint(len(payload)) + payload


def event_batch_response(encoded_events: Sequence[bytes], resume_token: bytes) -> bytes:
    """Serialised `StreamEventsResponse{event_batch: {events, resume_token}}`."""
    batch = b"".join([_field(_BATCH_EVENTS, event) for event in encoded_events])
    batch += _field(_BATCH_RESUME_TOKEN, resume_token)
    return _field(_RESPONSE_EVENT_BATCH, batch)
