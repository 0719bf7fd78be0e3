"""The Massive events the typed fast path decodes (msgspec structs, tagged by the `ev` field).

They live apart from `massive_typed`, which mypyc compiles: a compiled class body drops the class
keywords (`tag_field`, `tag`) that msgspec needs to tell the events apart.
"""

from __future__ import annotations

import msgspec

__all__ = ["Aggregate", "MinuteAggregate", "Quote", "Trade"]


class Aggregate(msgspec.Struct, tag_field="ev", tag="A"):
    """A per-second aggregate (`A`).

    Close `c`, volume `v`, end `e` (ms), day VWAP `a`, day open `op`, day volume `av`.
    """

    sym: str
    c: float
    v: int
    e: int
    a: float | None = None
    op: float | None = None
    av: int | None = None


class MinuteAggregate(Aggregate, tag="AM"):
    """A per-minute aggregate (`AM`), with the fields of `Aggregate`."""


class Trade(msgspec.Struct, tag_field="ev", tag="T"):
    """A trade (`T`): price `p`, size `s`, time `t` (ms)."""

    sym: str
    p: float
    s: int
    t: int


class Quote(msgspec.Struct, tag_field="ev", tag="Q"):
    """A quote (`Q`): bid `bp`, ask `ap`, time `t` (ms)."""

    sym: str
    bp: float
    ap: float
    t: int
