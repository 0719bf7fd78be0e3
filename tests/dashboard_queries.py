"""The metric names the Grafana dashboard (`docs/grafana/tickstock.json`) queries, read from its PromQL."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).parents[1] / "docs" / "grafana" / "tickstock.json"

_MATCHERS = re.compile(r"\{[^{}]*\}")
"""Label matchers: `{role=~"$role", code!="OK"}` (their values may hold anything, even names)."""
_RANGES = re.compile(r"\[[^\[\]]*\]")
"""Range selectors: `[$__rate_interval]`, `[5m]`."""
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
"""Label lists of aggregations and vector matching: `by (le, method)`."""
_IDENTIFIER = re.compile(r"(?<![\w$.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
)
_LABEL_VALUES = re.compile(r"^label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*\w+\s*\)$")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: identifiers that are not functions, keywords,
    label names, label values or template variables."""
    text = _GROUPING.sub(" ", _RANGES.sub(" ", _MATCHERS.sub(" ", expr)))
    return {
        name
        for name, call in _IDENTIFIER.findall(text)
        if not call and name not in _KEYWORDS and not name.startswith("__")
    }


def dashboard_queries(dashboard: dict[str, Any]) -> dict[str, set[str]]:
    """Every query of the dashboard (panel targets and template variables) with the metrics it names."""
    queries: dict[str, set[str]] = {}
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels += panel.get("panels", [])
        for target in panel.get("targets", []):
            queries[target["expr"]] = metric_names(target["expr"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            found = _LABEL_VALUES.match(query)
            assert found, f"template variable {variable['name']}: only label_values(metric, label) is checked"
            queries[query] = {found.group(1)}
    return queries


def load_dashboard() -> dict[str, Any]:
    """The dashboard JSON."""
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data
