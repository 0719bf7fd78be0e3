"""The in-memory AlertStore (the fake used by unit and API tests) honours the port's contract."""

from __future__ import annotations

import pytest
from alert_fixtures import NOW_NS
from alert_store_contract import AlertStoreContract

from tickstock_server.adapters.memory.alerts import MemoryAlertStore
from tickstock_server.ports.alerts import AlertStore


class TestMemoryAlertStore(AlertStoreContract):
    @pytest.fixture
    def store(self) -> AlertStore:
        # Typed as the port, so mypy checks that the fake implements it.
        return MemoryAlertStore(clock_ns=lambda: NOW_NS + 123)
