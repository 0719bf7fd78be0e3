"""Shared fixtures; as the rootdir conftest it puts tests/ on sys.path (`from factories import ...`)."""

from pathlib import Path

import pytest

pytest_plugins = ["wall_clock", "real_servers"]

# Port contract suites are plain modules the test modules import: have pytest explain their asserts too.
pytest.register_assert_rewrite(*(path.stem for path in Path(__file__).parent.glob("*_contract.py")))
