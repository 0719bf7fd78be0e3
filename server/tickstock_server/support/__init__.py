"""Primitives every feature shares: backoff, cancellation, time units."""
