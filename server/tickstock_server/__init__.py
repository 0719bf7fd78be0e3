"""TickStock server: real-time market-data event detection and delivery over gRPC."""

__version__ = "0.1.0"

from tickstock_server import native

native.install()
