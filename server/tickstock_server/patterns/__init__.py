"""Chart patterns: the TickStockPL consumer, the pattern cache and scan, fallback detection, alerts and backtests."""
