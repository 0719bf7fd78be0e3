"""`tickstock watch --symbols AAPL,MSFT`, the real CLI process on a pseudo-terminal (so it draws its live
table) against the default topology's processes (an ingest process and a gateway): the table keeps
going across a restart of both, and the restart's new epoch (the synthetic session starts again) shows
as a gap notice."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import re
import signal
import struct
import sys
import termios
from pathlib import Path

from polling import eventually
from server_process import (
    free_port,
    run_admin,
    server_env,
    serving,
    sigint_as_in_a_terminal,
    started,
    topology_settings,
)

_STATUS = re.compile(r"(\w+) \| resume (\S+) \| ([\d,]+) events")
_TERMINAL_CODES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class Terminal:
    """A pseudo-terminal of 50 rows and 140 columns; what the program draws on it, without the codes."""

    def __init__(self) -> None:
        self.main, self.child = pty.openpty()
        fcntl.ioctl(self.child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 140, 0, 0))
        self._drawn = bytearray()
        asyncio.get_running_loop().add_reader(self.main, self._read)

    def _read(self) -> None:
        try:
            self._drawn += os.read(self.main, 65536)
        except OSError:  # the program closed the terminal
            asyncio.get_running_loop().remove_reader(self.main)

    def text(self) -> str:
        return _TERMINAL_CODES.sub(b"", bytes(self._drawn)).decode(errors="replace")

    def statuses(self) -> list[tuple[str, str, int]]:
        """Every status line drawn so far: connection state, resume token, events seen."""
        return [(state, token, int(n.replace(",", ""))) for state, token, n in _STATUS.findall(self.text())]

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.main)
        os.close(self.main)
        os.close(self.child)


async def test_watch_keeps_its_table_going_across_a_server_restart(
    pg_database_url: str, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    common = topology_settings(pg_database_url, redis_url, f"test:{port}:events:")
    ingest_env = server_env(0, TICKSTOCK_ROLE="ingest", **common)
    env = server_env(port, TICKSTOCK_ROLE="gateway", **common)
    key = await run_admin("create-key", "--user", "alice", env=env)
    # The size comes from the terminal: pytest-xdist's workers set COLUMNS=80 and LINES=24, which rich
    # would prefer, and the table's 12 columns do not fit 80 characters.
    cli_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    cli_env["TICKSTOCK_API_KEY"] = key
    tickstock = str(Path(sys.executable).parent / "tickstock")
    terminal = Terminal()
    try:
        async with started(ingest_env), serving(env, port):
            watch = await asyncio.create_subprocess_exec(
                tickstock, "--target", f"127.0.0.1:{port}", "watch", "--symbols", "AAPL,MSFT",
                "--resume-file", str(tmp_path / "watch.token"),
                env=cli_env, stdin=terminal.child, stdout=terminal.child, stderr=terminal.child,
                preexec_fn=sigint_as_in_a_terminal,
            )  # fmt: skip
            try:
                await eventually(
                    lambda: any(s[0] == "live" and s[2] > 0 for s in terminal.statuses()), 30, 0.2
                )
                before = terminal.statuses()[-1]
            except BaseException:
                watch.kill()
                raise
        try:
            async with started(ingest_env), serving(env, port):
                await eventually(lambda: _after_restart(terminal.statuses()[-1], before), 30, 0.2)
        finally:
            watch.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(watch.wait(), 15)
        await asyncio.sleep(0.2)  # the last frame
        text, statuses = terminal.text(), terminal.statuses()
    finally:
        terminal.close()

    assert code == 130  # interrupted, as documented
    assert {"live", "reconnecting"} <= {state for state, _, _ in statuses}
    assert "gap: the server's event log started a new epoch" in text
    assert any(_after_restart(status, before) for status in statuses)
    # A table row: the symbol, then its last event's type. Not anchored at a line's start: with the
    # cursor codes removed, a redrawn row may follow what the frame before it left on that line.
    assert re.search(r"\b(AAPL|MSFT)\s+(high|low|trend|surge)\b", text)


def _after_restart(status: tuple[str, str, int], before: tuple[str, str, int]) -> bool:
    """Live on the restarted server (its new epoch) with more events than before the restart."""
    state, token, events = status
    return state == "live" and token.split(":")[0] != before[1].split(":")[0] and events > before[2]
