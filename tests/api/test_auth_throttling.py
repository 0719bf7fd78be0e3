"""Failed authentications over the in-process server: one lookup per bad token, throttling, logs."""

from __future__ import annotations

import logging

import grpc
import pytest
from api_server import ApiServer, ServerFactory
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tickstock.v1 import event_service_pb2
from tickstock_server.api.auth_failures import AuthFailures

SECRET = "W" * 43
WRONG = f"tsk_0123456789ab_{SECRET}"


class FrozenMonotonic:
    def __call__(self) -> float:
        return 1000.0


async def _list_presets(api: ApiServer, token: str) -> grpc.aio.AioRpcError | None:
    try:
        await api.events_stub().ListFilterPresets(
            event_service_pb2.ListFilterPresetsRequest(), metadata=(("authorization", f"Bearer {token}"),)
        )
    except grpc.aio.AioRpcError as exc:
        return exc
    return None


async def test_repeating_a_wrong_secret_costs_one_store_lookup(api: ApiServer) -> None:
    # Act
    errors = [await _list_presets(api, WRONG) for _ in range(10)]

    # Assert
    assert {error.code() for error in errors if error is not None} == {grpc.StatusCode.UNAUTHENTICATED}
    assert api.keys.verifications == 1


async def test_a_peer_beyond_its_failure_budget_is_throttled_with_retry_info(
    start_api_server: ServerFactory,
) -> None:
    # Arrange: the budget never refills (frozen clock)
    api: ApiServer = await start_api_server(
        auth_failures=AuthFailures(failures_per_s=1.0, burst=3, monotonic_s=FrozenMonotonic())
    )
    await _list_presets(api, api.token)  # a verified token, cached
    first = [await _list_presets(api, f"tsk_{index:012x}_{SECRET}") for index in range(3)]
    lookups = api.keys.verifications

    # Act
    throttled = await _list_presets(api, WRONG)
    cached_key = await _list_presets(api, api.token)

    # Assert
    assert [error.code() for error in first if error is not None] == [grpc.StatusCode.UNAUTHENTICATED] * 3
    assert throttled is not None
    assert throttled.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    status = rpc_status.from_call(throttled)  # type: ignore[arg-type]
    assert status is not None
    info, retry = error_details_pb2.ErrorInfo(), error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    assert status.details[1].Unpack(retry)
    assert info.reason == "AUTH_THROTTLED"
    assert retry.retry_delay.ToMilliseconds() == 1000
    assert api.keys.verifications == lookups
    assert cached_key is None


async def test_a_failure_is_logged_with_key_id_and_peer_never_the_secret(
    api: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    caplog.set_level(logging.INFO, logger="tickstock_server.api.auth_failures")

    # Act
    await _list_presets(api, WRONG)

    # Assert
    [record] = caplog.records
    assert (record.levelno, record.key_id, record.peer) == (  # type: ignore[attr-defined]
        logging.INFO,
        "0123456789ab",
        "127.0.0.1",
    )
    assert SECRET not in caplog.text
