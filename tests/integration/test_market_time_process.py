"""The README's GetBars call against the real default process shows bars at any hour of any day."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

import pytest
from server_process import free_port, run_admin, server_env, serving

from tickstock_server.domain.market_calendar import EASTERN
from tickstock_server.market_calendars import xnys_calendar

pytestmark = pytest.mark.wall_clock


async def test_readme_get_bars_call_returns_the_synthetic_sessions_bars(tmp_path: Path) -> None:
    # Nothing configured but ports and the data directory: embedded Redis and PostgreSQL, synthetic feed.
    port = free_port()
    env = server_env(port, TICKSTOCK_DATA_DIR=str(tmp_path / "data"))
    async with serving(env, port):
        token = await run_admin("create-key", "--user", "mona", env=env)
        grpcurl = shutil.which("grpcurl", path=str(Path(sys.executable).parent))
        assert grpcurl is not None
        await asyncio.sleep(1.5)  # some trading in the first minute
        process = await asyncio.create_subprocess_exec(
            grpcurl, "-plaintext", "-H", f"authorization: Bearer {token}",
            "-d", '{"symbol": "AAPL", "interval": "BAR_INTERVAL_1_MINUTE"}',
            f"127.0.0.1:{port}", "tickstock.v1.MarketDataService/GetBars",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()

    assert process.returncode == 0, err.decode()
    bars = json.loads(out)["bars"]
    assert bars, "GetBars without end_time returned no bars"
    # They are the synthetic session's: it opened at 09:30 ET of the latest XNYS trading day.
    opened = dt.datetime.fromtimestamp(xnys_calendar().latest_open_ns(time.time_ns()) / 1e9, tz=EASTERN)
    first = dt.datetime.fromisoformat(bars[0]["start_time"].replace("Z", "+00:00")).astimezone(EASTERN)
    assert first.date() == opened.date()
    assert dt.time(9, 30) <= first.time() < dt.time(9, 40)
