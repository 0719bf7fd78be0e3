"""ListBacktests requests parsed, pages mapped with their tokens; and results with read-only details."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import pytest

from tickstock.v1 import backtest_service_pb2 as pb
from tickstock_server.api.mappers._common import encode_page_token, request_binding
from tickstock_server.api.mappers.backtest_service import (
    list_query_from_proto,
    list_response_to_proto,
    result_to_proto,
)
from tickstock_server.domain.backtests import (
    Backtest,
    BacktestPage,
    BacktestParameters,
    BacktestResult,
    BacktestState,
)
from tickstock_server.errors import InvalidRequestError

T0_NS = 1_767_700_800_000_000_000  # 2026-01-06T12:00:00Z


def _backtest(index: int) -> Backtest:
    return Backtest(
        backtest_id=f"backtest_{index:04d}",
        user="alice",
        state=BacktestState.QUEUED,
        symbols=("AAPL",),
        start_date=dt.date(2025, 1, 2),
        end_date=dt.date(2025, 12, 31),
        patterns=("Doji",),
        parameters=BacktestParameters(),
        create_ns=T0_NS + index,
        update_ns=T0_NS + index,
    )


def _violated_fields(request: pb.ListBacktestsRequest, user: str = "alice") -> list[str]:
    with pytest.raises(InvalidRequestError) as caught:
        list_query_from_proto(request, user)
    return [violation.field for violation in caught.value.violations]


# The page size's range, 0 to 100, is the proto's rule (tests/unit/api/test_request_rules.py).
@pytest.mark.parametrize(("page_size", "limit"), [(0, 20), (1, 1), (100, 100)])
def test_page_size_defaults_to_twenty(page_size: int, limit: int) -> None:
    # Act
    query = list_query_from_proto(pb.ListBacktestsRequest(page_size=page_size), "alice")

    # Assert
    assert (query.limit, query.after) == (limit, None)


def test_next_page_token_continues_after_the_last_backtest_of_the_page() -> None:
    # Arrange
    request = pb.ListBacktestsRequest(page_size=2)
    page = BacktestPage(backtests=(_backtest(3), _backtest(2)), more=True)

    # Act
    response = list_response_to_proto(request, "alice", page)
    query = list_query_from_proto(
        pb.ListBacktestsRequest(page_size=2, page_token=response.next_page_token), "alice"
    )

    # Assert
    assert [backtest.backtest_id for backtest in response.backtests] == ["backtest_0003", "backtest_0002"]
    assert (query.limit, query.after) == (2, (T0_NS + 2, "backtest_0002"))


def test_last_page_has_no_next_page_token() -> None:
    # Act
    response = list_response_to_proto(
        pb.ListBacktestsRequest(), "alice", BacktestPage(backtests=(_backtest(1),), more=False)
    )

    # Assert
    assert response.next_page_token == ""


@pytest.mark.parametrize("token", ["garbage", "e30", "eyJ0IjoxLCJpIjoieCIsInUiOiJ4In0"])
def test_malformed_page_token_is_a_violation_on_page_token(token: str) -> None:
    assert _violated_fields(pb.ListBacktestsRequest(page_token=token)) == ["page_token"]


def test_page_token_of_another_user_is_a_violation_on_page_token() -> None:
    # Arrange
    page = BacktestPage(backtests=(_backtest(1),), more=True)
    token = list_response_to_proto(pb.ListBacktestsRequest(page_size=1), "alice", page).next_page_token

    # Act / Assert
    assert _violated_fields(pb.ListBacktestsRequest(page_size=1, page_token=token), user="bob") == [
        "page_token"
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        (10**30, "backtest_1_ab"),
        (-1, "backtest_1_ab"),
        (4_102_444_800 * 10**9, "backtest_1_ab"),
        (1, "a\x00b"),
        (1, ""),
    ],
)
def test_page_token_with_a_well_formed_check_but_an_impossible_cursor_is_a_violation(
    cursor: tuple[int, str],
) -> None:
    # Arrange: the check is no secret, so a client can forge a token of any cursor
    request = pb.ListBacktestsRequest()
    token = encode_page_token(request_binding(request, "alice"), cursor)

    # Act / Assert
    assert _violated_fields(pb.ListBacktestsRequest(page_token=token)) == ["page_token"]


def test_result_with_read_only_details_maps_to_proto() -> None:
    # Arrange: the producer's details arrive as a read-only mapping
    result = BacktestResult(
        total_trades=3, details=MappingProxyType({"per_pattern": {"Doji": {"trades": 3}}})
    )

    # Act
    proto = result_to_proto(result)

    # Assert
    assert proto.total_trades == 3
    assert proto.details["per_pattern"]["Doji"]["trades"] == 3
