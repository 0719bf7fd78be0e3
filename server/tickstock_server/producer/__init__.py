"""The TickStockPL contract (channels, message shapes, parsing) and its consumer; shared with producer_sim."""
