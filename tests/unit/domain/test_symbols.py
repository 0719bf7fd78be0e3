"""The ticker syntax shared by every layer."""

from __future__ import annotations

import pytest

from tickstock_server.domain.symbols import is_symbol


@pytest.mark.parametrize("text", ["A", "AAPL", "BRK.B", "BF-B", "X1", "A" + "B" * 14])
def test_tickers_are_symbols(text: str) -> None:
    assert is_symbol(text)


@pytest.mark.parametrize(
    "text",
    ["", "aapl", "1A", ".A", "-A", "A B", "AAPL\n", " AAPL", "A" + "B" * 15, "A_B", "ÄPFEL", "A\x00"],
)
def test_other_text_is_not_a_symbol(text: str) -> None:
    assert not is_symbol(text)
