"""In-process implementations of the ports in `tickstock_server.ports`, for tests and development."""
