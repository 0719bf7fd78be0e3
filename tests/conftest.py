"""Shared fixtures; as the rootdir conftest it puts tests/ on sys.path (`from factories import ...`)."""
