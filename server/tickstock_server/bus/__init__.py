"""Redis adapters: the event stream, the producer's pub/sub channels, the pattern mirror."""
