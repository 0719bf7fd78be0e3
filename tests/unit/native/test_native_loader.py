"""The loader's staleness rule: a build runs only while its recorded digest matches the sources."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tickstock_server import native

_PROBE = (
    "from tickstock_server import native\n"
    "import tickstock_server.detection.engine as engine\n"
    "print(native.mode()); print(engine.__file__.endswith('.py'))\n"
)


def _probe(env_switch: str | None, server_dir: Path | None = None) -> list[str]:
    env = {key: value for key, value in os.environ.items() if key != native.ENV_SWITCH}
    if env_switch is not None:
        env[native.ENV_SWITCH] = env_switch
    if server_dir is not None:
        env["PYTHONPATH"] = str(server_dir)
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], env=env, check=True, capture_output=True, text=True, timeout=60
    )
    return result.stdout.splitlines()


def test_the_digest_covers_every_compiled_source() -> None:
    for module in native.COMPILED_MODULES:
        assert native.source_path(module).is_file()
    assert len(native.source_digest()) == 64


def test_a_fresh_build_runs_compiled_and_the_switch_runs_interpreted() -> None:
    assert json.loads(native.MANIFEST.read_text())["digest"] == native.source_digest()
    assert _probe(None) == ["compiled", "False"]
    assert _probe("0") == [f"interpreted: {native.ENV_SWITCH}=0", "True"]


def test_an_edited_source_runs_interpreted_never_against_the_old_binary(tmp_path: Path) -> None:
    # A copy of the built server tree, ahead of the real one on the path, with one source edited.
    server_dir = tmp_path / "server"
    shutil.copytree(native.PACKAGE_DIR.parent, server_dir, ignore=shutil.ignore_patterns("__pycache__"))
    edited = server_dir / native.source_path("tickstock_server.detection.engine").relative_to(
        native.PACKAGE_DIR.parent
    )
    assert _probe(None, server_dir) == ["compiled", "False"]

    edited.write_text(edited.read_text() + "\n# edited after the build\n")

    assert _probe(None, server_dir) == ["interpreted: the compiled build is stale", "True"]


def test_without_a_compiler_the_build_says_so_once_and_the_core_runs_interpreted(tmp_path: Path) -> None:
    server_dir = tmp_path / "server"
    shutil.copytree(native.PACKAGE_DIR.parent, server_dir, ignore=shutil.ignore_patterns("__pycache__"))
    script = native.PACKAGE_DIR.parents[1] / "scripts" / "build_native.py"
    env = {**os.environ, "PYTHONPATH": str(server_dir), "CC": str(tmp_path / "no-such-cc")}

    result = subprocess.run(
        [sys.executable, str(script), "--force"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )

    missing = tmp_path / "no-such-cc"
    assert result.stdout.splitlines() == [
        f"tickstock: no C compiler ({missing}): the detection core runs interpreted (pure Python)"
    ]
    assert not list(server_dir.rglob("*.so"))
    assert _probe(None, server_dir) == [
        "interpreted: no compiled build (scripts/bootstrap builds it where a C compiler exists)",
        "True",
    ]
