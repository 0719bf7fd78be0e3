"""`tickstock watch --symbols AAPL,MSFT`, the real CLI process against the default topology's processes
(an ingest process and a gateway): its live table keeps going across a restart of both, and the
restart's new epoch (the synthetic session starts again) shows as a gap notice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from polling import eventually
from server_process import free_port, run_admin, server_env, serving, started, topology_settings

_STATUS = re.compile(r"^(\w+) \| resume (\S+) \| ([\d,]+) events", re.MULTILINE)


def _statuses(output: Path) -> list[tuple[str, str, int]]:
    """Every status line printed so far: connection state, resume token, events seen."""
    text = output.read_text(errors="replace")
    return [(state, token, int(count.replace(",", ""))) for state, token, count in _STATUS.findall(text)]


async def test_watch_keeps_its_table_going_across_a_server_restart(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    common = topology_settings(pg_database_url, redis_url, f"test:{port}:events:")
    ingest_env = server_env(0, TICKSTOCK_ROLE="ingest", **common)
    env = server_env(port, TICKSTOCK_ROLE="gateway", **common)
    key = await run_admin("create-key", "--user", "alice", env=env)
    cli_env = {**os.environ, "TICKSTOCK_API_KEY": key, "COLUMNS": "140"}
    tickstock = str(Path(sys.executable).parent / "tickstock")
    output = tmp_path / "watch.out"
    with output.open("wb") as sink:
        async with started(ingest_env), serving(env, port):
            watch = await asyncio.create_subprocess_exec(
                tickstock, "--target", f"127.0.0.1:{port}", "watch", "--symbols", "AAPL,MSFT",
                "--resume-file", str(tmp_path / "watch.token"),
                env=cli_env, stdout=sink, stderr=sink,
            )  # fmt: skip
            try:
                await eventually(lambda: any(s[0] == "live" and s[2] > 0 for s in _statuses(output)), 30, 0.2)
                before = _statuses(output)[-1]
            except BaseException:
                watch.kill()
                raise
        try:
            async with started(ingest_env), serving(env, port):
                await eventually(lambda: _after_restart(_statuses(output)[-1], before), 30, 0.2)
        finally:
            watch.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(watch.wait(), 15)

    text, statuses = output.read_text(errors="replace"), _statuses(output)
    assert code == 130  # interrupted, as documented
    assert {"live", "reconnecting"} <= {state for state, _, _ in statuses}
    assert "gap: the server's event log started a new epoch" in text
    assert any(_after_restart(status, before) for status in statuses)
    last_table = text.rsplit("most recently active first", 1)[1]
    assert {line.split()[0] for line in last_table.splitlines() if line.strip()[:4] in ("AAPL", "MSFT")}


def _after_restart(status: tuple[str, str, int], before: tuple[str, str, int]) -> bool:
    """Live on the restarted server (its new epoch) with more events than before the restart."""
    state, token, events = status
    return state == "live" and token.split(":")[0] != before[1].split(":")[0] and events > before[2]
