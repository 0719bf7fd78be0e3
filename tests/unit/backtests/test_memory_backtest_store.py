"""The in-memory BacktestStore (the fake of the unit and API tests) honours the port's contract."""

from __future__ import annotations

import pytest
from backtest_store_contract import BacktestStoreContract

from tickstock_server.adapters.memory.backtests import MemoryBacktestStore
from tickstock_server.ports.backtests import BacktestStore


class TestMemoryBacktestStore(BacktestStoreContract):
    @pytest.fixture
    def store(self) -> BacktestStore:
        # Typed as the port, so mypy checks that the fake implements it.
        return MemoryBacktestStore()
