"""The in-memory PatternMirror (the fake used by unit tests) honours the port's contract."""

from __future__ import annotations

import pytest
from pattern_mirror_contract import PatternMirrorContract

from tickstock_server.adapters.memory.patterns import MemoryPatternMirror
from tickstock_server.ports.patterns import PatternMirror


class TestMemoryPatternMirror(PatternMirrorContract):
    @pytest.fixture
    def mirror(self) -> PatternMirror:
        # Typed as the port, so mypy checks that the fake implements it.
        return MemoryPatternMirror()
