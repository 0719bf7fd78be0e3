"""The alert router's counters: a snapshot for metrics and tests."""

from __future__ import annotations

from dataclasses import dataclass

from tickstock_server.support.metric_samples import MetricSample, counter, gauge


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRouterStats:
    """Counters of an `AlertRouter` since it was created."""

    subscriptions: int
    """Active subscriptions now."""
    streams: int
    """Open alert streams now."""
    delivered: int
    """Alerts that passed every check (once per subscription, whatever the number of streams)."""
    quiet_hours_suppressed: int
    rate_limited: int
    overflowed_streams: int
    """Streams ended because their queue overflowed."""

    def metric_samples(self) -> list[MetricSample]:
        """These counters as metric samples; suppressed alerts by reason."""
        suppressed = "Alerts withheld, by reason: quiet_hours or rate_limited."
        return [
            gauge("tickstock_alert_subscriptions", "Active alert subscriptions.", self.subscriptions),
            gauge("tickstock_alert_streams", "Open alert streams.", self.streams),
            counter(
                "tickstock_alerts_delivered",
                "Alerts that passed quiet hours and rate limits (once per subscription, whatever its "
                "number of streams).",
                self.delivered,
            ),
            counter(
                "tickstock_alerts_suppressed", suppressed, self.quiet_hours_suppressed, reason="quiet_hours"
            ),
            counter("tickstock_alerts_suppressed", suppressed, self.rate_limited, reason="rate_limited"),
            counter(
                "tickstock_alert_streams_overloaded",
                "Alert streams ended because the client read too slowly.",
                self.overflowed_streams,
            ),
        ]
