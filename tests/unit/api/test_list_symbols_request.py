"""ListSymbols and GetSymbol requests are checked, paged and normalised before they reach the catalog."""

from __future__ import annotations

from typing import Any

import pytest

from tickstock.v1 import universe_service_pb2 as pb
from tickstock_server.api.mappers.universe_service import (
    list_symbols_violations,
    parse_list_symbols,
    parse_symbol,
    symbols_page_token,
)
from tickstock_server.domain.universes import SymbolSearch
from tickstock_server.errors import InvalidRequestError


def test_an_ordinary_search_passes() -> None:
    assert (
        list_symbols_violations(pb.ListSymbolsRequest(query="apple inc.", market="stocks", type="CS")) == []
    )


@pytest.mark.parametrize(
    ("fields", "field", "description"),
    [
        ({"query": "app\x00le"}, "query", "must not contain control characters"),
        ({"market": "stocks\n"}, "market", "must not contain control characters"),
        ({"page_token": "t\x7f"}, "page_token", "must not contain control characters"),
    ],
)
def test_control_character_fields_are_violations(
    fields: dict[str, str], field: str, description: str
) -> None:
    [violation] = list_symbols_violations(pb.ListSymbolsRequest(**fields))

    assert (violation.field, violation.description) == (field, description)


# Lengths and the page size's range are the proto's rules (tests/unit/api/test_request_rules.py).
@pytest.mark.parametrize(("page_size", "limit"), [(0, 100), (1, 1), (37, 37), (1000, 1000)])
def test_page_size_is_defaulted(page_size: int, limit: int) -> None:
    parsed = parse_list_symbols(pb.ListSymbolsRequest(page_size=page_size))

    assert (parsed.limit, parsed.after) == (limit, None)


def test_the_search_fields_are_kept_as_given() -> None:
    parsed = parse_list_symbols(pb.ListSymbolsRequest(query="Apple", market="Stocks", type="cs"))

    assert parsed.search == SymbolSearch(query="Apple", market="Stocks", symbol_type="cs")


def test_a_token_continues_after_its_ticker_whatever_the_page_size() -> None:
    token = symbols_page_token(pb.ListSymbolsRequest(query="a", type="CS", page_size=10), "AAPL")

    parsed = parse_list_symbols(pb.ListSymbolsRequest(query="a", type="CS", page_size=50, page_token=token))

    assert parsed.after == "AAPL"


@pytest.mark.parametrize(
    "other",
    [
        pb.ListSymbolsRequest(query="b", type="CS"),
        pb.ListSymbolsRequest(query="a", type="ETF"),
        pb.ListSymbolsRequest(query="a", type="CS", market="otc"),
    ],
)
def test_a_token_of_other_filters_is_refused_on_page_token(other: pb.ListSymbolsRequest) -> None:
    other.page_token = symbols_page_token(pb.ListSymbolsRequest(query="a", type="CS"), "AAPL")

    with pytest.raises(InvalidRequestError) as caught:
        parse_list_symbols(other)

    assert [(v.field, v.description) for v in caught.value.violations] == [
        ("page_token", "is not a page token of a previous response with the same query, market and type")
    ]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"query": "q\x00", "page_token": "garbage!"}, "query"),
        ({"page_token": "garbage!"}, "page_token"),
        ({"page_token": "e30"}, "page_token"),  # {}
    ],
)
def test_checks_run_in_order_and_stop_at_the_first_failing(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_list_symbols(pb.ListSymbolsRequest(**fields))

    assert [violation.field for violation in caught.value.violations] == [field]


def test_get_symbol_request_is_trimmed_and_upper_cased() -> None:
    assert parse_symbol(pb.GetSymbolRequest(symbol="  brk.b ")) == "BRK.B"
