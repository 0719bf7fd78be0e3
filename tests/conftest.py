"""Shared fixtures; as the rootdir conftest it puts tests/ on sys.path (`from factories import ...`)."""

pytest_plugins = ["wall_clock"]
