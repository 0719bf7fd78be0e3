"""Chart patterns: the TickStockPL consumer, the pattern cache and scan, fallback, alerts and backtests."""
