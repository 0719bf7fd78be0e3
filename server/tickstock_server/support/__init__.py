"""Primitives every feature shares: mailboxes, per-user stream limits, backoff, cancellation, time units."""
