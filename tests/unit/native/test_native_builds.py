"""The compiled and the interpreted detection core give byte-identical events from one recorded feed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tickstock_server import native

_FEED = Path(__file__).parents[2] / "data" / "massive_sample.jsonl"
_CHILD = Path(__file__).with_name("replay_events.py")


def _replay(*, interpreted: bool) -> list[str]:
    env = {key: value for key, value in os.environ.items() if key != native.ENV_SWITCH}
    if interpreted:
        env[native.ENV_SWITCH] = "0"
    result = subprocess.run(
        [sys.executable, str(_CHILD), str(_FEED)], env=env, check=True, capture_output=True, timeout=60
    )
    return result.stdout.decode().splitlines()


def test_compiled_and_interpreted_builds_emit_identical_events() -> None:
    compiled = _replay(interpreted=False)
    interpreted = _replay(interpreted=True)

    assert compiled[0] == "compiled", "scripts/build_native.py has not built a fresh compiled core"
    assert interpreted[0] == f"interpreted: {native.ENV_SWITCH}=0"
    assert len(compiled) > 100
    assert compiled[1:] == interpreted[1:]
