"""The command blocks of docs/grpcurl.md, and how to run one."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

GUIDE = Path(__file__).parents[2] / "docs" / "grpcurl.md"
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_DEADLINE_EXCEEDED = 64 + 4
"""grpcurl's exit code when -max-time ends a call (64 + the gRPC status code)."""


def guide_blocks() -> list[str]:
    """The guide's bash blocks in order; the first is the setup every other block runs after."""
    return _BLOCK.findall(GUIDE.read_text())


def ends_with_a_stream(block: str) -> bool:
    """True when the block's last command is a server-streaming call (ended by -max-time)."""
    last_call = [line for line in block.splitlines() if "tickstock.v1." in line][-1]
    return re.search(r"/Stream\w+$", last_call.strip()) is not None


def run_block(setup: str, block: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the setup and one block in bash (errexit, pipefail); a stream's deadline counts as success."""
    result = subprocess.run(
        ["bash", "-c", f"set -euo pipefail\n{setup}\n{block}"],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode == _DEADLINE_EXCEEDED and ends_with_a_stream(block):
        return subprocess.CompletedProcess(result.args, 0, result.stdout, result.stderr)
    return result
