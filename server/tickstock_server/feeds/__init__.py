"""Tick feeds: adapters that implement the `TickSource` port."""

from tickstock_server.feeds.synthetic import SyntheticMarket, SyntheticMarketConfig, SyntheticTickSource

__all__ = ["SyntheticMarket", "SyntheticMarketConfig", "SyntheticTickSource"]
