"""ListSymbols requests are checked before they reach PostgreSQL."""

from __future__ import annotations

import pytest

from tickstock.v1 import universe_service_pb2 as pb
from tickstock_server.api.mappers.universe_service import list_symbols_violations


def test_an_ordinary_search_passes() -> None:
    assert (
        list_symbols_violations(pb.ListSymbolsRequest(query="apple inc.", market="stocks", type="CS")) == []
    )


@pytest.mark.parametrize(
    ("fields", "field", "description"),
    [
        ({"query": "a" * 1_000_000}, "query", "at most 64 characters"),
        ({"query": "app\x00le"}, "query", "must not contain control characters"),
        ({"market": "stocks\n"}, "market", "must not contain control characters"),
        ({"type": "C" * 17}, "type", "at most 16 characters"),
        ({"page_token": "t" * 1025}, "page_token", "at most 1024 characters"),
    ],
)
def test_long_or_control_character_fields_are_violations(
    fields: dict[str, str], field: str, description: str
) -> None:
    [violation] = list_symbols_violations(pb.ListSymbolsRequest(**fields))

    assert (violation.field, violation.description) == (field, description)
