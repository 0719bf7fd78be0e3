"""In the compiled build (the one this suite runs) a tick's fields are read-only at run time too."""

from __future__ import annotations

import pytest

from tickstock_server import native
from tickstock_server.domain.tick import Tick


def test_a_compiled_tick_cannot_be_changed() -> None:
    tick = Tick(symbol="AAPL", price=190.25, volume=300, ts_ns=1)
    assert native.mode() == "compiled"

    with pytest.raises(AttributeError, match="not writable"):
        tick.price = 1.0  # type: ignore[misc]

    assert tick.price == 190.25
