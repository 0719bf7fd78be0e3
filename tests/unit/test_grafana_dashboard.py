"""The Grafana dashboard in `docs/grafana/`: well formed, every query per role, its metric names found.

Whether those metrics exist in what real ingest and gateway processes export is checked in
`tests/integration/test_dashboard_metrics.py`.
"""

from __future__ import annotations

import pytest
from dashboard_queries import dashboard_queries, load_dashboard, metric_names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (method) (rate(a_total{role=~"$role"}[$__rate_interval]))', {"a_total"}),
        (
            'histogram_quantile(0.99, sum by (le, method) (rate(lat_seconds_bucket{code!="OK"}[5m])))',
            {"lat_seconds_bucket"},
        ),
        ('max(x{job="not_a_metric"}) / on (instance) group_left y', {"x", "y"}),
        ("rate(a[1m]) and b offset 5m", {"a", "b"}),
        ("sum without (instance) (up) > bool 0", {"up"}),
    ],
)
def test_metric_names_are_the_selected_series_not_functions_labels_or_values(
    expr: str, names: set[str]
) -> None:
    assert metric_names(expr) == names


def test_every_panel_queries_tickstock_metrics_of_the_chosen_roles() -> None:
    dashboard = load_dashboard()
    panels = [panel for panel in dashboard["panels"] if panel["type"] != "row"]

    queries = dashboard_queries(dashboard)

    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    assert all(panel["targets"] for panel in panels)
    for expr, names in queries.items():
        assert names, f"no metric in {expr}"
        assert all(name.startswith(("tickstock_", "process_")) for name in names), expr
        assert expr.startswith("label_values") or 'role=~"$role"' in expr, f"not per role: {expr}"
