"""Every request field of every service, found by walking the descriptors, and its limits as test cases.

A limit case holds two requests of one method: one with a field at its declared limit (the server must
serve it or refuse it on semantics, never with INTERNAL) and one just past it (INVALID_ARGUMENT naming
the field). Fields are found from the services' descriptors, so a new field or method is covered
without touching the tests, and a string or list field without a maximum is reported as unbounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from buf.validate import validate_pb2
from google.protobuf import duration_pb2, message_factory, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from tickstock_server.api.server import SERVICES

Path = tuple[str, ...]
_WELL_KNOWN = "google.protobuf."
_INT_KINDS = {
    FieldDescriptor.TYPE_INT32: "int32",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_UINT32: "uint32",
    FieldDescriptor.TYPE_UINT64: "uint64",
}


@dataclass(frozen=True)
class LimitCase:
    """One field of one method at its limit and past it."""

    method: MethodDescriptor
    field: str
    """The field as a BadRequest names it, e.g. ``filter.symbols`` or ``filter.symbols[0]``."""
    limit: str
    """What is tested, e.g. ``max_len 15``."""
    at_limit: Message | None
    """The request with the field at its limit; None when the rule has no valid extreme (defined enums)."""
    past_limit: Message

    @property
    def name(self) -> str:
        """A readable id: method, field and limit."""
        return f"{self.method.name}:{self.field}:{self.limit}"


def request_methods() -> list[MethodDescriptor]:
    """Every method of every `tickstock.v1` service."""
    return [method for service in SERVICES for method in service.methods]


def field_rules(field: FieldDescriptor) -> validate_pb2.FieldRules:
    """The field's `buf.validate.field` rules (empty when it has none)."""
    options = field.GetOptions()
    if options.HasExtension(validate_pb2.field):
        return options.Extensions[validate_pb2.field]
    return validate_pb2.FieldRules()


def request_fields(descriptor: Descriptor, prefix: Path = ()) -> Iterator[tuple[Path, FieldDescriptor]]:
    """Every field of a request, nested messages' fields included (well-known types are leaves)."""
    for field in descriptor.fields:
        path = (*prefix, field.name)
        yield path, field
        nested = field.message_type
        if nested is not None and not field.is_repeated and not nested.full_name.startswith(_WELL_KNOWN):
            yield from request_fields(nested, path)


def unbounded_fields() -> list[str]:
    """Request fields lacking the rule that bounds them: a maximum for every string, bytes, list and map,
    defined values for enums, finiteness for floating-point numbers, allowed paths for field masks."""
    missing = []
    for method in request_methods():
        for path, field in request_fields(method.input_type):
            rules = field_rules(field)
            if not _bounded(field, rules):
                missing.append(f"{method.full_name}: {'.'.join(path)}")
    return sorted(set(missing))


def _bounded(field: FieldDescriptor, rules: validate_pb2.FieldRules) -> bool:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return rules.map.HasField("max_pairs")
    if field.is_repeated:
        return rules.repeated.HasField("max_items") and _item_bounded(field, rules.repeated.items)
    return _item_bounded(field, rules)


def _item_bounded(field: FieldDescriptor, rules: validate_pb2.FieldRules) -> bool:
    kind = field.type
    if kind == FieldDescriptor.TYPE_STRING:
        return rules.string.HasField("max_len")
    if kind == FieldDescriptor.TYPE_BYTES:
        return rules.bytes.HasField("max_len")
    if kind == FieldDescriptor.TYPE_ENUM:
        return rules.enum.defined_only
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return rules.double.finite or rules.float.finite
    if field.message_type is not None and field.message_type.full_name == "google.protobuf.FieldMask":
        return rules.HasField("field_mask")
    return True


def documented_limits() -> list[tuple[str, str]]:
    """(message name, field name) of every request field, nested ones included, that has a rule."""
    found = []
    for method in request_methods():
        for path, field in request_fields(method.input_type):
            if field.GetOptions().HasExtension(validate_pb2.field):
                found.append((field.containing_type.name, path[-1]))
    return sorted(set(found))


def limit_cases() -> list[LimitCase]:
    """A case for every limit declared on a request field, over every method."""
    cases = []
    for method in request_methods():
        for path, field in request_fields(method.input_type):
            cases += _cases(method, path, field, field_rules(field))
    return cases


Setter = Callable[[Message], None]


def _cases(
    method: MethodDescriptor, path: Path, field: FieldDescriptor, rules: validate_pb2.FieldRules
) -> list[LimitCase]:
    name = ".".join(path)
    found: list[tuple[str, str, Setter | None, Setter]] = []  # (field, limit, at, past)
    if field.is_repeated:
        if rules.repeated.HasField("max_items"):
            most = rules.repeated.max_items
            item = _sample_item(field)
            found.append(
                (name, f"max_items {most}", _put(path, [item] * most), _put(path, [item] * (most + 1)))
            )
        for limit, at, past in _value_limits(field, rules.repeated.items):
            found.append((f"{name}[0]", limit, _wrap_list(path, at), _wrap_list(path, past)))
    else:
        for limit, at, past in _value_limits(field, rules):
            found.append((name, limit, None if at is None else _put(path, at), _put(path, past)))
    return [
        LimitCase(
            method=method,
            field=where,
            limit=limit,
            at_limit=None if at is None else _request(method, at),
            past_limit=_request(method, past),
        )
        for where, limit, at, past in found
    ]


def _value_limits(field: FieldDescriptor, rules: validate_pb2.FieldRules) -> list[tuple[str, Any, Any]]:
    """(limit, value at it, value past it) for each bound of one value; at is None when none is valid."""
    kind = field.type
    limits: list[tuple[str, Any, Any]] = []
    if kind == FieldDescriptor.TYPE_STRING and rules.string.HasField("max_len"):
        most = rules.string.max_len
        limits.append((f"max_len {most}", "A" * most, "A" * (most + 1)))
    if kind == FieldDescriptor.TYPE_ENUM and rules.enum.defined_only:
        limits.append(("defined_only", None, max(v.number for v in field.enum_type.values) + 1))
    if kind in _INT_KINDS:
        numbers = getattr(rules, _INT_KINDS[kind])
        if numbers.HasField("lte"):
            limits.append((f"lte {numbers.lte}", numbers.lte, numbers.lte + 1))
        if numbers.HasField("gte") and not (kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64)
                                            and numbers.gte == 0):  # fmt: skip
            limits.append((f"gte {numbers.gte}", numbers.gte, numbers.gte - 1))
    if kind == FieldDescriptor.TYPE_DOUBLE:
        numbers = rules.double
        if numbers.HasField("lte"):
            limits.append((f"lte {numbers.lte:g}", numbers.lte, math.nextafter(numbers.lte, math.inf)))
        if numbers.HasField("gte"):
            limits.append((f"gte {numbers.gte:g}", numbers.gte, math.nextafter(numbers.gte, -math.inf)))
        if numbers.finite:
            limits.append(("finite", None, math.nan))
    limits += _time_limits(field, rules)
    return limits


def _time_limits(field: FieldDescriptor, rules: validate_pb2.FieldRules) -> list[tuple[str, Any, Any]]:
    kind = field.message_type.full_name if field.message_type is not None else ""
    limits: list[tuple[str, Any, Any]] = []
    if kind == "google.protobuf.Duration" and rules.HasField("duration"):
        bounds = rules.duration
        if bounds.HasField("lte"):
            most = bounds.lte.ToNanoseconds()
            limits.append((f"lte {most} ns", _duration(most), _duration(most + 1)))
        if bounds.HasField("gte"):
            least = bounds.gte.ToNanoseconds()
            limits.append((f"gte {least} ns", _duration(least), _duration(least - 1)))
    if kind == "google.protobuf.Timestamp" and rules.HasField("timestamp"):
        bounds = rules.timestamp
        if bounds.HasField("lt"):
            end = bounds.lt.ToNanoseconds()
            limits.append((f"lt {end} ns", _timestamp(end - 1), _timestamp(end)))
        if bounds.HasField("gte"):
            start = bounds.gte.ToNanoseconds()
            limits.append((f"gte {start} ns", _timestamp(start), _timestamp(start - 1)))
    return limits


def _duration(ns: int) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(ns)
    return duration


def _timestamp(ns: int) -> timestamp_pb2.Timestamp:
    seconds, nanos = divmod(ns, 1_000_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def _sample_item(field: FieldDescriptor) -> Any:
    if field.type == FieldDescriptor.TYPE_ENUM:
        return min(v.number for v in field.enum_type.values if v.number != 0)
    if field.type == FieldDescriptor.TYPE_STRING:
        return "A"
    raise AssertionError(f"{field.full_name}: no sample item for lists of this type")


def _request(method: MethodDescriptor, setter: Setter) -> Message:
    request = message_factory.GetMessageClass(method.input_type)()
    setter(request)
    return request


def _put(path: Path, value: Any) -> Setter:
    def put(request: Message) -> None:
        holder = request
        for name in path[:-1]:
            holder = getattr(holder, name)
        _lowest_valid(holder)
        target = getattr(holder, path[-1])
        if isinstance(value, list):
            target.extend(value)
        elif isinstance(value, Message):
            target.CopyFrom(value)
        else:
            setattr(holder, path[-1], value)

    return put


def _lowest_valid(message: Message) -> None:
    """Set the numbers whose range excludes 0 (a Date's year, month, day) to their least valid value, so
    that a case breaks only the rule it tests."""
    for field in message.DESCRIPTOR.fields:
        if field.type in _INT_KINDS and not field.is_repeated:
            numbers = getattr(field_rules(field), _INT_KINDS[field.type])
            if numbers.HasField("gte") and numbers.gte > 0:
                setattr(message, field.name, numbers.gte)


def _wrap_list(path: Path, value: Any) -> Setter | None:
    return None if value is None else _put(path, [value])
