"""Seeded, coverage-free input generators for `fuzz.py`: byte, JSON and protobuf mutations of a corpus.

Every generator takes a `random.Random`, so one seed gives the same inputs on every run. Each input is
one of: pure random bytes, or a corpus entry mutated by byte flips, truncation, splicing with another
entry, or by replacing a value inside it (JSON value or protobuf field) with an odd one: huge or
negative numbers, NaN and Infinity, NUL bytes, huge strings, deep nesting, wrong types, unknown enums.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf import descriptor
from google.protobuf.message import Message

_FD = descriptor.FieldDescriptor
_BIG_STRING_CHARS = 70_000
"""Longest string put into an input: past every field limit and the 64 KiB producer message limit."""

ODD_STRINGS: tuple[str, ...] = (
    "", " ", "\0", "A\0B", "AAPL\0", "a" * 65, "A" * 16, "€" * 40, "\u202e", "💥", "NaN", "Infinity",
    "-1", "0", "1e999", "null", "[]", "{}", "../../etc", "a:b", ":", "a::b", "%s%n", "\\u0000",
    "AAPL", "aapl", " AAPL ", "BRK.B", "X" * 300, "tech", "dow3", "dow3:chips", "wl-1",
)  # fmt: skip
"""Strings that sit on or just past a validation rule, or are plainly hostile."""

ODD_INTS: tuple[int, ...] = (
    0, -1, 1, 2, 59, 61, 99, 100, 101, 255, 1000, 1001, 10**6, 2**31 - 1, -(2**31), 2**32 - 1,
    2**53 + 1, 2**63 - 1, -(2**63), 253_402_300_800, -62_135_596_801, 4_102_444_800,
)  # fmt: skip
"""Integers at type and range boundaries (Timestamp limits, int32/64 ends, page sizes)."""

ODD_FLOATS: tuple[float, ...] = (
    math.nan, math.inf, -math.inf, -0.0, 0.0, 1e308, -1e308, 5e-324, 1e-9, 0.5, 1.0, 1.0000001, 100.0, -1.0,
)  # fmt: skip
"""Floats a validator must refuse or handle: non-finite, extremes, subnormals, boundaries."""

ODD_JSON: tuple[Any, ...] = (
    None, True, False, 0, -1, 1.5, -1e308, 1e308, 10**30, 10**400, "", "x", "NaN", "2026-01-06",
    "€" * 40, [], [1, "a"], {}, {"a": {"b": [None]}}, "A" * 200, 0.999999, 100, "\0", "\ud800",
)  # fmt: skip
"""JSON values to put in place of a field (10**400 and the lone surrogate stress the encoders too)."""

Generator = Callable[[random.Random], bytes]
"""Makes one input from the random source."""


def random_bytes(rng: random.Random) -> bytes:
    """Pure random bytes, mostly short."""
    return rng.randbytes(rng.choice((rng.randrange(0, 16), rng.randrange(0, 300), rng.randrange(0, 4096))))


def mutate_bytes(rng: random.Random, raw: bytes, corpus: Sequence[bytes]) -> bytes:
    """`raw` with flipped, inserted or removed bytes, truncated, spliced or repeated."""
    strategy = rng.randrange(6)
    if not raw or strategy == 0:  # splice: the start of one entry and the end of another
        other = rng.choice(corpus)
        return raw[: rng.randrange(len(raw) + 1)] + other[rng.randrange(len(other) + 1) :]
    if strategy == 1:
        return raw[: rng.randrange(len(raw))]
    mutable = bytearray(raw)
    if strategy == 2:
        for _ in range(rng.randrange(1, 8)):
            mutable[rng.randrange(len(mutable))] = rng.randrange(256)
    elif strategy == 3:
        for _ in range(rng.randrange(1, 4)):
            at = rng.randrange(len(mutable) + 1)
            mutable[at:at] = rng.choice((b"\0", b"\xff", b"\x80", b"\\u0000", b"NaN", b"-", b"9" * 40))
    elif strategy == 4:
        start = rng.randrange(len(mutable))
        del mutable[start : start + rng.randrange(1, 32)]
    else:  # a slice repeated: long runs of the same structure
        start = rng.randrange(len(mutable))
        piece = mutable[start : start + rng.randrange(1, 16)]
        mutable[start:start] = piece * rng.randrange(2, 200)
    return bytes(mutable)


def _json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            paths += _json_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            paths += _json_paths(child, (*prefix, index))
    return paths


def _dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except ValueError:  # an integer over Python's digit limit: written as a long literal by hand
        return json.dumps(value, default=str).encode()


def mutate_json(rng: random.Random, valid: Any) -> bytes:
    """`valid` (a JSON value) with one value replaced, removed, deeply nested or made huge."""
    message = copy.deepcopy(valid)
    paths = _json_paths(message)
    strategy = rng.randrange(7)
    if strategy == 0 or not paths:  # the whole message swapped for an odd value or a deep nest
        if rng.random() < 0.5:
            return _dumps(rng.choice(ODD_JSON))
        depth = rng.choice((50, 999, 5_000, 100_000))
        return b"[" * depth + b"]" * depth if rng.random() < 0.5 else b'{"a":' * depth + b"1" + b"}" * depth
    path = rng.choice(paths)
    parent = message
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    if strategy == 1:
        parent[key] = rng.choice(ODD_JSON)
    elif strategy == 2 and isinstance(parent, dict):
        del parent[key]
    elif strategy == 3:
        parent[key] = json.loads("[" * 50 + "]" * 50)
    elif strategy == 4:
        parent[key] = rng.choice(("A", "\0", "é")) * rng.choice((65, 257, 4097, _BIG_STRING_CHARS))
    elif strategy == 5 and isinstance(parent, dict):  # an extra unknown key
        parent[rng.choice(ODD_STRINGS)] = rng.choice(ODD_JSON)
    else:  # a literal JSON forbids but Python's json writes: NaN, Infinity
        parent[key] = rng.choice((math.nan, math.inf, -math.inf))
    return _dumps(message)


def _mixed(encoded: Sequence[bytes], structured: Generator, byte_share: float) -> Generator:
    """5 % random bytes, 5 % corpus entries unchanged, `byte_share` byte mutations, the rest `structured`."""

    def generate(rng: random.Random) -> bytes:
        roll = rng.random()
        if roll < 0.05:
            return random_bytes(rng)
        if roll < 0.10:
            return rng.choice(encoded)
        if roll < 0.10 + byte_share:
            return mutate_bytes(rng, rng.choice(encoded), encoded)
        return structured(rng)

    return generate


def json_generator(corpus: Sequence[Any]) -> Generator:
    """Inputs from JSON `corpus` values: mostly structured mutations, some byte mutations and noise."""
    return _mixed([_dumps(value) for value in corpus], lambda rng: mutate_json(rng, rng.choice(corpus)), 0.30)


def _odd_scalar(rng: random.Random, field: descriptor.FieldDescriptor, current: Any) -> Any:
    kind = field.type
    if kind == _FD.TYPE_STRING:
        roll = rng.random()
        if roll < 0.03:
            return rng.choice(("A", "\0", "é", "a:")) * rng.choice((65, 257, 4097, _BIG_STRING_CHARS))
        if roll < 0.3 and isinstance(current, str) and current:
            chars = list(current)
            chars[rng.randrange(len(chars))] = chr(rng.choice((0, 0x7F, 0x202E, rng.randrange(32, 0xD7FF))))
            return "".join(chars)
        return rng.choice(ODD_STRINGS)
    if kind == _FD.TYPE_BYTES:
        return rng.randbytes(rng.randrange(64))
    if kind == _FD.TYPE_BOOL:
        return rng.random() < 0.5
    if kind in (_FD.TYPE_DOUBLE, _FD.TYPE_FLOAT):
        value = rng.choice(ODD_FLOATS)
        return value if kind == _FD.TYPE_DOUBLE or not math.isfinite(value) or abs(value) < 3e38 else 1e38
    if kind == _FD.TYPE_ENUM:
        return rng.choice((*[v.number for v in field.enum_type.values], -1, 99, 2**31 - 1))
    value = rng.choice((*ODD_INTS, rng.randrange(-1000, 1000)))
    return _fit_int(field, value)


def _fit_int(field: descriptor.FieldDescriptor, value: int) -> int:
    unsigned = field.type in (_FD.TYPE_UINT32, _FD.TYPE_UINT64, _FD.TYPE_FIXED32, _FD.TYPE_FIXED64)
    bits = 32 if field.cpp_type in (_FD.CPPTYPE_INT32, _FD.CPPTYPE_UINT32) else 64
    if unsigned:
        return value % (1 << bits)
    half = 1 << (bits - 1)
    return (value + half) % (1 << bits) - half


def _fields(message: Message) -> list[tuple[Message, descriptor.FieldDescriptor]]:
    """Every (message, field) pair reachable through set sub-messages, plus the unset ones of each."""
    found: list[tuple[Message, descriptor.FieldDescriptor]] = []
    for field in message.DESCRIPTOR.fields:
        found.append((message, field))
        if field.type != _FD.TYPE_MESSAGE:
            continue
        if _is_repeated(field):
            for child in getattr(message, field.name):
                found += _fields(child)
        elif message.HasField(field.name):
            found += _fields(getattr(message, field.name))
    return found


def _is_repeated(field: descriptor.FieldDescriptor) -> bool:
    return bool(field.is_repeated)


def mutate_message(rng: random.Random, message: Message) -> None:
    """Change one field of `message` (in place): an odd value, cleared, or a repeated field flooded."""
    target, field = rng.choice(_fields(message))
    if rng.random() < 0.15:
        target.ClearField(field.name)
        return
    if field.type == _FD.TYPE_MESSAGE:
        child = getattr(target, field.name).add() if _is_repeated(field) else getattr(target, field.name)
        if field.message_type.full_name == "google.protobuf.FieldMask":
            child.paths.append(rng.choice(("name", "symbols", "", "name,symbols", "x" * 100)))
            return
        for sub in child.DESCRIPTOR.fields:  # a sub-message with odd values in every scalar
            if sub.type != _FD.TYPE_MESSAGE and not _is_repeated(sub):
                setattr(child, sub.name, _odd_scalar(rng, sub, None))
        return
    if _is_repeated(field):
        values = getattr(target, field.name)
        count = rng.choice((1, 2, 101, 1001, 10_001)) if rng.random() < 0.5 else 1
        if count > 1 and rng.random() < 0.5 and len(values):
            values.extend([values[0]] * count)  # many copies of a valid entry
        else:
            values.extend(_odd_scalar(rng, field, None) for _ in range(min(count, 50)))
        return
    setattr(target, field.name, _odd_scalar(rng, field, getattr(target, field.name)))


def proto_generator(corpus: Sequence[Message]) -> Generator:
    """Serialised requests: valid ones with 1 to 3 field mutations, byte mutations and random bytes."""

    def structured(rng: random.Random) -> bytes:
        message = type(corpus[0])()
        message.CopyFrom(rng.choice(corpus))
        for _ in range(rng.choice((1, 1, 2, 3))):
            mutate_message(rng, message)
        return message.SerializeToString()

    return _mixed([message.SerializeToString() for message in corpus], structured, 0.20)
