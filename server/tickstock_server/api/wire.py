"""Builds `StreamEventsResponse` bytes around events that were serialised once, in the event log.

Protobuf concatenation rules make this exact: a repeated message field is the concatenation of its
length-delimited entries, so a batch can be framed around pre-encoded `Event` bytes without parsing them.
Every subscriber's batch is framed here, so this is on the fan-out's hot path: lengths below 16,384
bytes (every event) take a table lookup, and the resume token is written directly.
Tests check the result against the generated code's own serialisation.
"""

from __future__ import annotations

from collections.abc import Sequence

_LEN = 2  # wire type of length-delimited fields
_VARINT = 0  # wire type of integers
_BATCH_EVENTS = 1  # EventBatch.events
_BATCH_RESUME_TOKEN = 2  # EventBatch.resume_token
_RESPONSE_EVENT_BATCH = 2  # StreamEventsResponse.event_batch
_TOKEN_EPOCH = 1  # ResumeToken.epoch
_TOKEN_SEQ = 2  # ResumeToken.seq

_TABLED = 1 << 14
_VARINTS = [
    bytes((value,)) if value < 0x80 else bytes(((value & 0x7F) | 0x80, value >> 7))
    for value in range(_TABLED)
]
"""The varint encoding of every value below 2**14 (one or two bytes)."""


def _varint(value: int) -> bytes:
    if value < _TABLED:
        return _VARINTS[value]
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


_EVENT_TAG = _tag(_BATCH_EVENTS, _LEN)
_TOKEN_TAG = _tag(_BATCH_RESUME_TOKEN, _LEN)
_BATCH_TAG = _tag(_RESPONSE_EVENT_BATCH, _LEN)
_EPOCH_TAG = _tag(_TOKEN_EPOCH, _LEN)
_SEQ_TAG = _tag(_TOKEN_SEQ, _VARINT)


def resume_token(epoch: str, seq: int) -> bytes:
    """Serialised `ResumeToken{epoch, seq}` (fields at their defaults are left out, as protobuf does)."""
    encoded_epoch = epoch.encode()
    out = _EPOCH_TAG + _varint(len(encoded_epoch)) + encoded_epoch if encoded_epoch else b""
    return out + _SEQ_TAG + _varint(seq) if seq else out


def event_batch_response(encoded_events: Sequence[bytes], resume_token: bytes) -> bytes:
    """Serialised `StreamEventsResponse{event_batch: {events, resume_token}}`."""
    varints, tabled, varint = _VARINTS, _TABLED, _varint
    parts = [_BATCH_TAG, b""]
    for event in encoded_events:
        size = len(event)
        parts += (_EVENT_TAG, varints[size] if size < tabled else varint(size), event)
    parts += (_TOKEN_TAG, varint(len(resume_token)), resume_token)
    parts[1] = varint(sum(map(len, parts)) - len(_BATCH_TAG))
    return b"".join(parts)
