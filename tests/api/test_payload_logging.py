"""TICKSTOCK_LOG__PAYLOADS: requests and responses logged at DEBUG, session tokens never."""

from __future__ import annotations

import logging

import pytest
from api_server import ApiServer, ServerFactory

from tickstock.v1 import auth_service_pb2, auth_service_pb2_grpc, event_service_pb2

LOGGER = "tickstock_server.api.interceptors"
PRESET = event_service_pb2.FilterPreset(name="lows", filter=event_service_pb2.EventFilter(symbols=["AAPL"]))


async def test_payloads_are_logged_at_debug_when_enabled(
    start_api_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    api: ApiServer = await start_api_server(log_payloads=True)
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    # Act
    await api.events_stub().SaveFilterPreset(
        event_service_pb2.SaveFilterPresetRequest(preset=PRESET), metadata=api.metadata
    )

    # Assert
    payloads = [(r.getMessage(), r.payload) for r in caplog.records if hasattr(r, "payload")]
    request_line = 'preset { name: "lows" filter { symbols: "AAPL" } }'
    assert payloads[0] == ("request payload", request_line)
    assert payloads[1][0] == "response payload"
    assert payloads[1][1].startswith('preset { name: "lows"')


async def test_payloads_are_not_logged_by_default(api: ApiServer, caplog: pytest.LogCaptureFixture) -> None:
    # Arrange
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    # Act
    await api.events_stub().SaveFilterPreset(
        event_service_pb2.SaveFilterPresetRequest(preset=PRESET), metadata=api.metadata
    )

    # Assert
    assert [r for r in caplog.records if hasattr(r, "payload")] == []


async def test_session_tokens_are_never_logged(
    start_api_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    api: ApiServer = await start_api_server(log_payloads=True)
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    # Act
    response = await auth_service_pb2_grpc.AuthServiceStub(api.channel).CreateSessionToken(
        auth_service_pb2.CreateSessionTokenRequest(), metadata=api.metadata
    )

    # Assert
    assert response.token not in caplog.text
    assert any(getattr(r, "payload", "").startswith("<not logged") for r in caplog.records)
