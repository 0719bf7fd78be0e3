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
    """Alerts that passed every check (once per subscription, whatever the number of streams): fired."""
    sent: int = 0
    """Alerts taken from stream queues to be sent to clients (once per stream)."""
    queued: int = 0
    """Items (alerts and notices) waiting in the open streams' queues now."""
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
                "tickstock_alerts_fired",
                "Alerts that passed quiet hours and rate limits (once per subscription, whatever its "
                "number of streams).",
                self.delivered,
            ),
            counter(
                "tickstock_alerts_delivered",
                "Alerts sent on alert streams (once per stream: a user with two streams gets each twice).",
                self.sent,
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
            gauge(
                "tickstock_alert_stream_queued",
                "Alerts and notices waiting in the alert streams' queues, all streams together.",
                self.queued,
            ),
        ]
