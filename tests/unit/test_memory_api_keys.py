"""The in-memory ApiKeyStore (the fake used by API tests) honours the port's contract."""

from __future__ import annotations

import pytest
from api_key_store_contract import ApiKeyStoreContract

from tickstock_server.adapters.memory.api_keys import MemoryApiKeyStore
from tickstock_server.ports.auth import ApiKeyStore


class TestMemoryApiKeyStore(ApiKeyStoreContract):
    @pytest.fixture
    def store(self) -> ApiKeyStore:
        # Typed as the port, so mypy checks that the fake implements it.
        return MemoryApiKeyStore()
