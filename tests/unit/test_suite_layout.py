"""The test suite's own layout: pytest imports test modules by file name here (no packages), so two
modules with one name anywhere under tests/ stop the whole suite at collection."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_module_has_a_name_of_its_own() -> None:
    names = Counter(path.name for path in TESTS.rglob("test_*.py") if "node_modules" not in path.parts)

    assert [name for name, count in names.items() if count > 1] == []
