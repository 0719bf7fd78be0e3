from __future__ import annotations

import pytest

from tickstock_server.domain.universes import (
    MAX_UNION_PARTS,
    Universe,
    UniverseKind,
    parse_universe_key,
    union_key,
    watchlist_name_violations,
    watchlist_symbol_violations,
)
from tickstock_server.errors import InvalidRequestError


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("sp500", ("sp500",)),
        ("sp500:nasdaq100", ("sp500", "nasdaq100")),
        ("dow30:sp500:dow30", ("dow30", "sp500")),  # repeats count once, first order kept
        ("sector_technology", ("sector_technology",)),
    ],
)
def test_well_formed_key_returns_its_names(key: str, expected: tuple[str, ...]) -> None:
    # Act
    names = parse_universe_key(key)

    # Assert
    assert names == expected


@pytest.mark.parametrize(
    "key",
    ["", "SP500", "sp500:", ":sp500", "sp500::dow30", "sp 500", "1sp500", "sp-500", "a" * 65],
)
def test_malformed_key_raises_invalid_request_on_field(key: str) -> None:
    # Act / Assert
    with pytest.raises(InvalidRequestError) as caught:
        parse_universe_key(key, field="filter.universes[0]")
    assert {violation.field for violation in caught.value.violations} == {"filter.universes[0]"}


def test_key_with_too_many_parts_raises_invalid_request() -> None:
    # Arrange
    key = ":".join(f"u{index}" for index in range(MAX_UNION_PARTS + 1))

    # Act / Assert
    with pytest.raises(InvalidRequestError, match="at most"):
        parse_universe_key(key)


def test_union_key_joins_names_with_colon() -> None:
    # Act / Assert
    assert union_key(("sp500", "nasdaq100")) == "sp500:nasdaq100"


def test_universe_member_count_is_number_of_symbols() -> None:
    # Arrange
    universe = Universe(name="x", description="", kind=UniverseKind.THEME, symbols=("AAPL", "MSFT"))

    # Act / Assert
    assert universe.member_count == 2


@pytest.mark.parametrize("name", ["Tech", "My tech stocks", "a" * 100, "Ünïcödé ✓"])
def test_valid_watchlist_name_has_no_violations(name: str) -> None:
    # Act / Assert
    assert watchlist_name_violations(name) == []


@pytest.mark.parametrize("name", ["", "a" * 101, " padded", "padded ", "tab\there", "new\nline"])
def test_invalid_watchlist_name_has_one_violation_on_name(name: str) -> None:
    # Act
    violations = watchlist_name_violations(name)

    # Assert
    assert [violation.field for violation in violations] == ["watchlist.name"]


def test_valid_symbols_have_no_violations() -> None:
    # Act / Assert
    assert watchlist_symbol_violations(["AAPL", "BRK.B", "BF-B", "T"]) == []


def test_malformed_and_repeated_symbols_are_reported_by_index() -> None:
    # Arrange: index 1 lower case, 3 repeats index 0, 4 has a trailing newline, 5 is too long (16 chars)
    symbols = ["AAPL", "msft", "NVDA", "AAPL", "TSLA\n", "ABCDEFGHIJKLMNOP"]

    # Act
    violations = watchlist_symbol_violations(symbols)

    # Assert
    assert [violation.field for violation in violations] == [
        "watchlist.symbols[1]",
        "watchlist.symbols[3]",
        "watchlist.symbols[4]",
        "watchlist.symbols[5]",
    ]
    assert "watchlist.symbols[0]" in violations[1].description
