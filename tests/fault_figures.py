"""The fault suite's figures at the end of a pytest run (a plugin of the rootdir conftest).

A fault test records `name: value unit` lines in its report's user properties (the `figure` fixture of
tests/faults/conftest.py); they travel with the report from a pytest-xdist worker to the controller,
which only loads the rootdir conftest's plugins: so the summary hook lives here.
"""

from __future__ import annotations

import pytest

FIGURE = "fault-figure"
"""The user property key of a figure."""


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", "") == "call"
        for key, value in getattr(report, "user_properties", [])
        if key == FIGURE
    ]
    if lines:
        terminalreporter.section("fault suite figures")
        for line in lines:
            terminalreporter.write_line(line)
