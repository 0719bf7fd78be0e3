"""The tick's value semantics, the same in the compiled and the interpreted build."""

from __future__ import annotations

import dataclasses

import pytest

from tickstock_server.domain.tick import Tick


def _tick(**changes: object) -> Tick:
    fields: dict[str, object] = {"symbol": "AAPL", "price": 190.25, "volume": 300, "ts_ns": 1_700_000_000_000}
    return Tick(**{**fields, **changes})  # type: ignore[arg-type]


def test_optional_fields_default_to_unknown() -> None:
    tick = _tick()

    assert (tick.received_ns, tick.vwap, tick.open_price, tick.accumulated_volume) == (0, None, None, None)


def test_ticks_with_equal_fields_are_equal_and_hash_alike() -> None:
    assert _tick(vwap=190.0) == _tick(vwap=190.0)
    assert hash(_tick(vwap=190.0)) == hash(_tick(vwap=190.0))
    assert _tick(vwap=190.0) != _tick(vwap=190.5)
    assert len({_tick(), _tick(), _tick(volume=301)}) == 2


def test_replace_gives_a_new_tick_and_leaves_the_original() -> None:
    tick = _tick(received_ns=5)

    moved = dataclasses.replace(tick, received_ns=9)

    assert (moved.received_ns, tick.received_ns) == (9, 5)
    assert moved == _tick(received_ns=9)


def test_fields_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        Tick("AAPL", 190.25, 300, 1)  # type: ignore[misc]


def test_repr_names_every_field() -> None:
    assert repr(_tick()) == (
        "Tick(symbol='AAPL', price=190.25, volume=300, ts_ns=1700000000000, received_ns=0, vwap=None, "
        "open_price=None, accumulated_volume=None)"
    )
