"""Backtest jobs: queued with the producer, kept in a store, progress streamed to their owners."""
