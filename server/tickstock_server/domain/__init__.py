"""Domain values: ticks, events and the market-session clock. Pure Python, no I/O."""
