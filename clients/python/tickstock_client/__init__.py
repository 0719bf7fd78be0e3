"""Python client of the TickStock gRPC API and the `tickstock` command line."""

__version__ = "0.1.0"
