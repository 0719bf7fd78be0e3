"""The one page-token codec: tokens continue only the query they were issued for."""

from __future__ import annotations

import base64
import json

import pytest

from tickstock.v1 import market_data_service_pb2 as pb
from tickstock_server.api.mappers._common import decode_page_token, encode_page_token, request_binding
from tickstock_server.errors import InvalidRequestError


def _request(**fields: object) -> pb.GetBarsRequest:
    values: dict[str, object] = {"symbol": "AAPL", "interval": pb.BAR_INTERVAL_1_MINUTE, **fields}
    return pb.GetBarsRequest(**values)  # type: ignore[arg-type]


def test_a_token_round_trips_its_cursor() -> None:
    binding = request_binding(_request(), "alice")

    token = encode_page_token(binding, (1_700_000_000_000_000_000, "bt_1"))

    assert decode_page_token(token, binding, (int, str)) == (1_700_000_000_000_000_000, "bt_1")


def test_the_binding_ignores_the_paging_fields() -> None:
    assert request_binding(_request(page_size=5, page_token="x")) == request_binding(_request())


@pytest.mark.parametrize(
    ("other", "context"),
    [
        (_request(symbol="MSFT"), ("alice",)),
        (_request(interval=pb.BAR_INTERVAL_1_HOUR), ("alice",)),
        (_request(), ("bob",)),
    ],
)
def test_a_token_of_another_request_or_user_is_refused(other: pb.GetBarsRequest, context: tuple[str]) -> None:
    token = encode_page_token(request_binding(_request(), "alice"), (1, 2))

    with pytest.raises(InvalidRequestError) as raised:
        decode_page_token(token, request_binding(other, *context), (int, int))

    assert [violation.field for violation in raised.value.violations] == ["page_token"]


def _edited(token: str) -> str:
    body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    body["c"][0] += 1
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode()


@pytest.mark.parametrize(
    "tamper",
    [_edited, lambda token: token[:-3], lambda token: "garbage", lambda token: ""],
    ids=["edited", "truncated", "garbage", "empty"],
)
def test_an_altered_token_is_refused(tamper: object) -> None:
    binding = request_binding(_request())
    token = encode_page_token(binding, (1, 2))

    with pytest.raises(InvalidRequestError):
        decode_page_token(tamper(token), binding, (int, int))  # type: ignore[operator]


def test_a_token_of_another_shape_is_refused() -> None:
    binding = request_binding(_request())
    token = encode_page_token(binding, (1, "x"))

    with pytest.raises(InvalidRequestError):
        decode_page_token(token, binding, (int, int))
