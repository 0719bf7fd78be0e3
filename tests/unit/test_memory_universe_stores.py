"""The in-memory universe and watchlist stores (the fakes of the API tests) honour their port contracts."""

from __future__ import annotations

import pytest
from universe_store_contract import SYMBOLS, UNIVERSES, UniverseStoreContract
from watchlist_store_contract import WatchlistStoreContract

from tickstock_server.adapters.memory.universes import MemoryUniverses, MemoryWatchlists
from tickstock_server.ports.universes import UniverseStore, WatchlistStore


class TestMemoryUniverses(UniverseStoreContract):
    @pytest.fixture
    def store(self) -> UniverseStore:
        # Typed as the port, so mypy checks that the fake implements it.
        return MemoryUniverses(UNIVERSES, symbols=SYMBOLS)


class TestMemoryWatchlists(WatchlistStoreContract):
    @pytest.fixture
    def store(self) -> WatchlistStore:
        return MemoryWatchlists()
