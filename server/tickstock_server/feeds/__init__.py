"""Tick feeds: adapters that implement the `TickSource` port."""
