"""The in-memory EventHistory (the fake used by unit tests) honours the port's contract."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from event_history_contract import EventHistoryContract, StoredHistory

from tickstock_server.adapters.memory.events import MemoryEventHistory
from tickstock_server.domain.log_entry import LogEntry
from tickstock_server.ports.events import EventHistory, SkippedRange


class TestMemoryEventHistory(EventHistoryContract):
    @pytest.fixture
    def stored(self) -> StoredHistory:
        async def store(entries: Sequence[LogEntry], skipped: Sequence[SkippedRange]) -> EventHistory:
            history = MemoryEventHistory(entries)
            for skip in skipped:
                history.skip(skip.from_seq, skip.to_seq)
            return history

        return store
