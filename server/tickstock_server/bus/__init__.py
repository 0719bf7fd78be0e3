"""Redis adapters of the ports: event stream, producer channels, pattern mirror, backtest requests."""
