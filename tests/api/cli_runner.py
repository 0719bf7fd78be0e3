"""Running the `tickstock` command line from an async test, and reading what it printed so far."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tickstock_client.cli import main


async def run_cli(*argv: str) -> int:
    """`tickstock ARGV...`'s exit code; the CLI runs its own event loop (asyncio.run), so in a thread."""
    return await asyncio.get_running_loop().run_in_executor(None, main, list(argv))


class Printed:
    """Stdout of a command still running, gathered from `capfd` line by line."""

    def __init__(self, capfd: pytest.CaptureFixture[str]) -> None:
        self._capfd = capfd
        self._out = ""
        self.err = ""

    def lines(self) -> list[dict[str, Any]]:
        """Every complete JSON line printed so far."""
        captured = self._capfd.readouterr()
        self._out += captured.out
        self.err += captured.err
        return [json.loads(line) for line in self._out.splitlines() if line.strip()]
