"""UpdateWatchlist requests: the update mask decides which fields are replaced."""

from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2

from tickstock.v1 import universe_service_pb2 as pb
from tickstock_server.api.mappers.universe_service import WatchlistChanges, parse_watchlist_changes

_WATCHLIST = pb.Watchlist(watchlist_id="w1", name="Tech", symbols=["AAPL", "MSFT"])


@pytest.mark.parametrize(
    ("paths", "name", "symbols"),
    [
        ([], "Tech", ("AAPL", "MSFT")),
        (["name"], "Tech", None),
        (["symbols"], None, ("AAPL", "MSFT")),
        (["symbols", "name"], "Tech", ("AAPL", "MSFT")),
    ],
)
def test_mask_selects_the_replaced_fields(
    paths: list[str], name: str | None, symbols: tuple[str, ...] | None
) -> None:
    request = pb.UpdateWatchlistRequest(
        watchlist=_WATCHLIST, update_mask=field_mask_pb2.FieldMask(paths=paths)
    )

    changes = parse_watchlist_changes(request)

    assert changes == WatchlistChanges(watchlist_id="w1", name=name, symbols=symbols)
