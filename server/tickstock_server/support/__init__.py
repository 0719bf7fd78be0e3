"""Primitives features share: mailboxes, stream limits, backoff, cancellation, time units, metrics, GC."""
