"""The issue's scenario, with real processes: the server runs on its embedded database, `tickstock-load`
attaches to that database (no --database-url), and GetBars 1d then serves the loaded daily bars."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path

import grpc
from fake_massive_rest import FakeMassiveRest, serve_history, trading_days
from google.protobuf.timestamp_pb2 import Timestamp
from server_process import free_port, run_admin, server_env, serving

from tickstock.v1 import market_data_service_pb2, market_data_service_pb2_grpc

API_KEY = "sk-test-process-9a8b7c"
FIRST, LAST = dt.date(2025, 1, 2), dt.date(2025, 1, 10)
LOADED = ("AAPL", "MSFT")  # the fake has history for these two of the dow30; the rest answer no bars
EST = dt.timezone(dt.timedelta(hours=-5))


def _timestamp(day: dt.date) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(dt.datetime(day.year, day.month, day.day, tzinfo=EST).astimezone(dt.UTC))
    return stamp


async def test_loaded_daily_bars_are_what_get_bars_serves_for_one_day(tmp_path: Path) -> None:
    port = free_port()
    env = server_env(port, TICKSTOCK_DATA_DIR=str(tmp_path / "data"))
    with FakeMassiveRest(api_key=API_KEY) as fake:
        serve_history(fake, LOADED, FIRST, LAST)
        async with serving(env, port):
            token = await run_admin("create-key", "--user", "loader", env=env)
            loader = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tickstock_server.loader", "--universe", "dow30",
                "--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--bars", "daily,minute",
                "--base-url", fake.base_url, "--data-dir", str(tmp_path / "data"),
                env={**env, "MASSIVE_API_KEY": API_KEY},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            _, log = await asyncio.wait_for(loader.communicate(), 180)
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                response = await market_data_service_pb2_grpc.MarketDataServiceStub(channel).GetBars(
                    market_data_service_pb2.GetBarsRequest(
                        symbol="MSFT",
                        interval=market_data_service_pb2.BAR_INTERVAL_1_DAY,
                        start_time=_timestamp(FIRST),
                        end_time=_timestamp(LAST + dt.timedelta(days=1)),
                    ),
                    metadata=(("authorization", f"Bearer {token}"),),
                )

    assert loader.returncode == 0, log.decode()
    assert "60 chunks planned" in log.decode()  # 30 symbols, one daily and one minute chunk each
    served = [
        (bar.start_time.ToDatetime(dt.UTC).astimezone(EST).date(), bar.open, bar.close, bar.volume)
        for bar in response.bars
    ]
    # MSFT is the second symbol of the fake's history: open 110, close 110 + day, volume 1000 x day;
    # its minutes would give volume 30 x day + 3 instead.
    assert served == [(day, 110.0, 110.0 + day.day, 1_000 * day.day) for day in trading_days(FIRST, LAST)]
