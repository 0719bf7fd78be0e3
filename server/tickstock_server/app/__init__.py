"""The composition root: the only place that reads `Settings` and builds concrete adapters.

`serve.py` starts the components on one `AsyncExitStack` and stops them in reverse; `backends.py` opens
PostgreSQL and Redis (embedded when no URL is set), `feeds.py` picks the tick source, `pattern_side.py`
builds the producer link, patterns, alerts and backtests.
"""
