"""In-memory fakes of the ports, one module per port area, for unit and API tests."""
