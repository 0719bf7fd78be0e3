"""The historical loader against a fake Massive REST server and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from fake_massive_rest import FakeMassiveRest, ms

from tickstock_server.loader import (
    Backfill,
    BackfillRequest,
    Chunk,
    MassiveRestClient,
    RestRetryPolicy,
    plan_chunks,
)
from tickstock_server.loader.__main__ import run_cli
from tickstock_server.storage.migrate import apply_migrations

API_KEY = "sk-test-5f9c2a7e1d"
EASTERN = dt.timezone(dt.timedelta(hours=-5))  # EST: every day used here is outside daylight saving
UTC = dt.UTC
FAR_FUTURE = dt.date(2100, 1, 1)


def daily_agg(day: dt.date, o: float, h: float, low: float, c: float, v: float) -> dict[str, Any]:
    # The API stamps a daily bar with the start of its US Eastern day.
    start = dt.datetime(day.year, day.month, day.day, tzinfo=EASTERN)
    return {"t": ms(start), "o": o, "h": h, "l": low, "c": c, "v": v, "vw": c, "n": 10}


def minute_agg(
    start: dt.datetime, o: float, h: float, low: float, c: float, v: float, n: int = 3
) -> dict[str, Any]:
    return {"t": ms(start), "o": o, "h": h, "l": low, "c": c, "v": v, "vw": c, "n": n}


@pytest.fixture
def fake() -> Iterator[FakeMassiveRest]:
    with FakeMassiveRest(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def pool(pg_pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    await apply_migrations(pg_pool)
    yield pg_pool


class RecordingSleep:
    def __init__(self) -> None:
        self.delays_s: list[float] = []

    def __call__(self, delay_s: float) -> None:
        self.delays_s.append(delay_s)  # no real wait: the tests stay fast and deterministic


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def client(fake: FakeMassiveRest, sleep: RecordingSleep) -> Iterator[MassiveRestClient]:
    policy = RestRetryPolicy(max_attempts=4, backoff_initial_s=0.5, backoff_max_s=1.5, retry_after_max_s=30.0)
    rest = MassiveRestClient(api_key=API_KEY, base_url=fake.base_url, retry=policy, sleep_fn=sleep)
    yield rest
    rest.close()


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# --- chunk planning (pure) ---


@pytest.mark.parametrize(
    ("kind", "first", "last", "days", "expected"),
    [
        # Daily: calendar years, cut at the requested range.
        ("daily", "2022-06-15", "2024-02-10", None,
         [("2022-06-15", "2022-12-31"), ("2023-01-01", "2023-12-31"), ("2024-01-01", "2024-02-10")]),
        # Minute: calendar months; February 2024 has 29 days (leap year).
        ("minute", "2024-01-20", "2024-03-05", None,
         [("2024-01-20", "2024-01-31"), ("2024-02-01", "2024-02-29"), ("2024-03-01", "2024-03-05")]),
        # December rolls over into the next year.
        ("minute", "2023-12-31", "2024-01-01", None,
         [("2023-12-31", "2023-12-31"), ("2024-01-01", "2024-01-01")]),
        # Minute, 10 days: Jan 1-10, 11-20, 21-30, then the 1-day rest Jan 31.
        ("minute", "2024-01-01", "2024-01-31", 10,
         [("2024-01-01", "2024-01-10"), ("2024-01-11", "2024-01-20"), ("2024-01-21", "2024-01-30"),
          ("2024-01-31", "2024-01-31")]),
        # One day is one chunk.
        ("daily", "2024-05-05", "2024-05-05", None, [("2024-05-05", "2024-05-05")]),
    ],
)  # fmt: skip
def test_plan_chunks_boundaries_cover_range_without_gaps(
    kind: str, first: str, last: str, days: int | None, expected: list[tuple[str, str]]
) -> None:
    chunks = plan_chunks(["AAPL"], d(first), d(last), kinds=[kind], minute_chunk_days=days)  # type: ignore[list-item]

    assert [(str(c.first), str(c.last)) for c in chunks] == expected
    assert {(c.symbol, c.kind) for c in chunks} == {("AAPL", kind)}


def test_plan_chunks_orders_by_symbol_then_kind() -> None:
    chunks = plan_chunks(["MSFT", "AAPL"], d("2024-01-30"), d("2024-02-02"), kinds=["daily", "minute"])

    assert [str(c) for c in chunks] == [
        "daily MSFT 2024-01-30..2024-02-02",
        "minute MSFT 2024-01-30..2024-01-31",
        "minute MSFT 2024-02-01..2024-02-02",
        "daily AAPL 2024-01-30..2024-02-02",
        "minute AAPL 2024-01-30..2024-01-31",
        "minute AAPL 2024-02-01..2024-02-02",
    ]


# --- loading ---


async def test_daily_backfill_values_land_exactly_per_year_chunk(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    fake.data.daily["AAPL"] = [
        daily_agg(d("2023-12-28"), 190.0, 191.0, 189.0, 190.5, 1000),  # before the range: not requested
        daily_agg(d("2023-12-29"), 193.9, 194.4, 191.73, 192.53, 42_628_802),
        daily_agg(d("2024-01-02"), 187.15, 188.44, 183.885, 185.64, 82_488_674.6),  # fractional volume
    ]

    summary = await Backfill(pool, client, today=FAR_FUTURE).run(
        BackfillRequest(symbols=("AAPL",), first=d("2023-12-29"), last=d("2024-01-02"), kinds=("daily",))
    )

    assert summary.ok
    assert (summary.chunks_loaded, summary.rows) == (2, 2)
    # One request per calendar year (chunks run concurrently: in any order).
    assert sorted(fake.paths()) == [
        "/v2/aggs/ticker/AAPL/range/1/day/2023-12-29/2023-12-31",
        "/v2/aggs/ticker/AAPL/range/1/day/2024-01-01/2024-01-02",
    ]
    assert fake.requests[0].query == {"adjusted": "true", "sort": "asc", "limit": "50000"}
    rows = await pool.fetch(
        "SELECT symbol, date, open, high, low, close, volume FROM ohlcv_daily ORDER BY date"
    )
    assert [tuple(row) for row in rows] == [
        ("AAPL", d("2023-12-29"), *map(Decimal, ["193.9", "194.4", "191.73", "192.53"]), 42_628_802),
        # 82,488,674.6 shares round to 82,488,675.
        ("AAPL", d("2024-01-02"), *map(Decimal, ["187.15", "188.44", "183.885", "185.64"]), 82_488_675),
    ]


async def test_daily_rerun_replaces_changed_day_and_never_stores_today(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    today = daily_agg(d("2024-01-03"), 11.0, 11.5, 10.5, 11.2, 40)  # still forming
    fake.data.daily["AAPL"] = [daily_agg(d("2024-01-02"), 10.0, 12.0, 9.0, 11.0, 100), today]
    backfill = Backfill(pool, client, today=d("2024-01-03"))  # the chunk reaches today: never recorded
    request = BackfillRequest(symbols=("AAPL",), first=d("2024-01-02"), last=d("2024-01-03"))
    await backfill.run(request)
    fake.data.daily["AAPL"] = [daily_agg(d("2024-01-02"), 10.0, 13.0, 8.5, 12.5, 250), today]

    summary = await backfill.run(request)

    assert (summary.chunks_loaded, summary.chunks_skipped) == (1, 0)
    rows = await pool.fetch("SELECT date, open, high, low, close, volume FROM ohlcv_daily")
    assert [tuple(row) for row in rows] == [
        (d("2024-01-02"), Decimal("10.0"), Decimal("13.0"), Decimal("8.5"), Decimal("12.5"), 250)
    ]
    assert await pool.fetchval("SELECT count(*) FROM load_progress") == 0


async def test_minute_backfill_values_land_exactly_per_month_chunk(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    last_jan = dt.datetime(2024, 1, 31, 20, 59, tzinfo=UTC)  # 15:59 ET, January's chunk
    first_feb = dt.datetime(2024, 2, 1, 14, 30, tzinfo=UTC)  # 09:30 ET, February's chunk
    fake.data.minute["MSFT"] = [
        minute_agg(last_jan, 397.5, 397.9, 397.41, 397.58, 312_455, n=2_100),
        minute_agg(first_feb, 401.83, 402.2, 401.5, 401.95, 280_001.4, n=1_874),
    ]

    summary = await Backfill(pool, client, today=FAR_FUTURE).run(
        BackfillRequest(symbols=("MSFT",), first=d("2024-01-31"), last=d("2024-02-01"), kinds=("minute",))
    )

    assert summary.ok
    assert (summary.chunks_loaded, summary.rows) == (2, 2)
    assert sorted(fake.paths()) == [
        "/v2/aggs/ticker/MSFT/range/1/minute/2024-01-31/2024-01-31",
        "/v2/aggs/ticker/MSFT/range/1/minute/2024-02-01/2024-02-01",
    ]
    rows = await pool.fetch("SELECT symbol, ts, open, high, low, close, volume FROM ohlcv_1min ORDER BY ts")
    assert [tuple(row) for row in rows] == [
        ("MSFT", last_jan, Decimal("397.5"), Decimal("397.9"), Decimal("397.41"), Decimal("397.58"), 312_455),
        (
            "MSFT",
            first_feb,
            Decimal("401.83"),
            Decimal("402.2"),
            Decimal("401.5"),
            Decimal("401.95"),
            280_001,
        ),
    ]


async def test_pagination_follows_next_url_until_last_page(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    start = dt.datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    fake.data.minute["NVDA"] = [
        minute_agg(start + dt.timedelta(minutes=i), 850.0 + i, 851.0 + i, 849.0 + i, 850.5 + i, 1_000 + i)
        for i in range(5)
    ]
    fake.data.page_size = 2  # 5 bars: pages of 2, 2 and 1

    summary = await Backfill(pool, client, today=FAR_FUTURE).run(
        BackfillRequest(symbols=("NVDA",), first=d("2024-03-05"), last=d("2024-03-05"), kinds=("minute",))
    )

    assert summary.rows == 5
    # Cursors are the base64 of the offsets 2 and 4.
    assert fake.paths() == [
        "/v2/aggs/ticker/NVDA/range/1/minute/2024-03-05/2024-03-05",
        "/v2/aggs/ticker/NVDA/range/1/minute/2024-03-05/2024-03-05?cursor=Mg==",
        "/v2/aggs/ticker/NVDA/range/1/minute/2024-03-05/2024-03-05?cursor=NA==",
    ]
    volumes = await pool.fetch("SELECT volume FROM ohlcv_1min ORDER BY ts")
    assert [row["volume"] for row in volumes] == [1_000, 1_001, 1_002, 1_003, 1_004]


async def test_failed_chunk_rerun_loads_only_missing_chunks(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    # Minute chunks of 2 days over Jan 8-15: 8-9, 10-11, 12-13, 14-15. One bar per day at 15:00 UTC.
    fake.data.minute["AMD"] = [
        minute_agg(dt.datetime(2024, 1, day, 15, 0, tzinfo=UTC), 140.0, 141.0, 139.0, 140.0 + day, 500 + day)
        for day in range(8, 16)
    ]
    fake.data.fail = lambda path: 404 if path.endswith("/2024-01-12/2024-01-13") else None
    backfill = Backfill(pool, client, today=FAR_FUTURE)
    request = BackfillRequest(
        symbols=("AMD",), first=d("2024-01-08"), last=d("2024-01-15"), kinds=("minute",), minute_chunk_days=2
    )

    first_run = await backfill.run(request)
    fake.data.fail = lambda path: None
    fake.clear_requests()
    second_run = await backfill.run(request)

    assert (first_run.chunks_loaded, len(first_run.chunks_failed)) == (3, 1)
    assert first_run.chunks_failed[0].startswith("minute AMD 2024-01-12..2024-01-13: ")
    assert "injected failure" in first_run.chunks_failed[0]
    assert (second_run.chunks_loaded, second_run.chunks_skipped, second_run.rows) == (1, 3, 2)
    assert second_run.ok
    assert fake.paths() == ["/v2/aggs/ticker/AMD/range/1/minute/2024-01-12/2024-01-13"]
    closes = await pool.fetch("SELECT close FROM ohlcv_1min ORDER BY ts")
    assert [row["close"] for row in closes] == [Decimal(140 + day) for day in range(8, 16)]
    progress = await pool.fetch("SELECT first_date, rows FROM load_progress ORDER BY first_date")
    assert [(str(row["first_date"]), row["rows"]) for row in progress] == [
        ("2024-01-08", 2),
        ("2024-01-10", 2),
        ("2024-01-12", 2),
        ("2024-01-14", 2),
    ]


async def test_completed_run_rerun_requests_nothing(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    fake.data.daily["AAPL"] = [daily_agg(d("2024-01-02"), 10.0, 12.0, 9.0, 11.0, 100)]
    backfill = Backfill(pool, client, today=FAR_FUTURE)
    request = BackfillRequest(symbols=("AAPL",), first=d("2023-06-01"), last=d("2024-01-31"))
    await backfill.run(request)
    fake.clear_requests()

    summary = await backfill.run(request)

    assert (summary.chunks_loaded, summary.chunks_skipped) == (0, 2)
    assert fake.paths() == []


# --- rate limiting ---


async def test_rate_limited_without_retry_after_backs_off_exponentially_then_succeeds(
    fake: FakeMassiveRest,
    client: MassiveRestClient,
    pool: asyncpg.Pool,
    sleep: RecordingSleep,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.data.daily["AAPL"] = [daily_agg(d("2024-01-02"), 10.0, 12.0, 9.0, 11.0, 100)]
    fake.data.rate_limited_responses = 3
    caplog.set_level(logging.WARNING, logger="tickstock_server.loader")

    summary = await Backfill(pool, client, today=FAR_FUTURE).run(
        BackfillRequest(symbols=("AAPL",), first=d("2024-01-02"), last=d("2024-01-02"))
    )

    assert summary.ok
    assert summary.rows == 1
    # 0.5 s, then doubled to 1.0 s, then 2.0 s capped at backoff_max_s = 1.5 s.
    assert sleep.delays_s == [0.5, 1.0, 1.5]
    assert len(fake.requests) == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert "HTTP 429, attempt 1 of 4" in warnings[0]
    assert "HTTP 429, attempt 3 of 4" in warnings[2]


async def test_rate_limited_with_retry_after_waits_as_told(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool, sleep: RecordingSleep
) -> None:
    fake.data.daily["AAPL"] = [daily_agg(d("2024-01-02"), 10.0, 12.0, 9.0, 11.0, 100)]
    fake.data.rate_limited_responses = 2
    fake.data.retry_after = "7"

    summary = await Backfill(pool, client, today=FAR_FUTURE).run(
        BackfillRequest(symbols=("AAPL",), first=d("2024-01-02"), last=d("2024-01-02"))
    )

    assert summary.ok
    assert sleep.delays_s == [7.0, 7.0]


async def test_rate_limited_beyond_max_attempts_fails_chunk_clearly_and_continues(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool, sleep: RecordingSleep
) -> None:
    fake.data.daily["AAPL"] = [daily_agg(d("2023-06-01"), 10.0, 12.0, 9.0, 11.0, 100)]
    fake.data.daily["MSFT"] = [daily_agg(d("2023-06-01"), 20.0, 22.0, 19.0, 21.0, 200)]
    fake.data.rate_limited_responses = 4  # every attempt (4) at AAPL's only chunk
    fake.data.retry_after = "120"  # capped at retry_after_max_s = 30 s

    # One chunk at a time, so the four 429 answers all go to AAPL's chunk.
    summary = await Backfill(pool, client, today=FAR_FUTURE, concurrency=1).run(
        BackfillRequest(symbols=("AAPL", "MSFT"), first=d("2023-06-01"), last=d("2023-06-01"))
    )

    assert not summary.ok
    assert len(summary.chunks_failed) == 1
    assert summary.chunks_failed[0].startswith("daily AAPL 2023-06-01..2023-06-01: ")
    assert "too many 429 error responses" in summary.chunks_failed[0]
    assert sleep.delays_s == [30.0, 30.0, 30.0]
    assert (summary.chunks_loaded, summary.rows) == (1, 1)
    assert await pool.fetchval("SELECT symbol FROM ohlcv_daily") == "MSFT"
    assert await pool.fetchval("SELECT symbol FROM load_progress") == "MSFT"


# --- reference data ---


async def test_reference_upserts_given_fields_and_deletes_nothing(
    fake: FakeMassiveRest, client: MassiveRestClient, pool: asyncpg.Pool
) -> None:
    await pool.execute(
        "INSERT INTO symbols (symbol, name, exchange, sector, market_cap, cik) VALUES"
        " ('AAPL', 'Apple', 'XNAS', 'Information Technology', 1, '0000320193'),"
        " ('IBM', 'International Business Machines', 'XNYS', 'Information Technology', 2, NULL)"
    )
    fake.data.tickers["AAPL"] = {
        "ticker": "AAPL",
        "name": "Apple Inc.",
        "market": "stocks",
        "locale": "us",
        "primary_exchange": "XNAS",
        "type": "CS",
        "active": True,
        "currency_name": "usd",
        "composite_figi": "BBG000B9XRY4",
        "share_class_figi": "BBG001S5N8V8",
        "market_cap": 2_771_126_040_150.5,
        "weighted_shares_outstanding": 15_634_232_000,
    }  # fmt: skip  (no "cik": the stored one stays)
    fake.data.tickers["RDDT"] = {
        "ticker": "RDDT",
        "name": "Reddit, Inc.",
        "primary_exchange": "XNYS",
        "active": True,
    }

    summary = await Backfill(pool, client).run(
        BackfillRequest(symbols=("AAPL", "RDDT", "NOPE"), kinds=(), reference=True)
    )

    assert summary.references_loaded == 2
    assert len(summary.references_failed) == 1
    assert summary.references_failed[0].startswith(
        "NOPE: ticker details of NOPE: the API refused the request"
    )
    rows = await pool.fetch(
        "SELECT symbol, name, exchange, market, type, sector, active, currency, market_cap, locale, cik,"
        " composite_figi, share_class_figi, weighted_shares_outstanding FROM symbols ORDER BY symbol"
    )
    assert [tuple(row) for row in rows] == [
        ("AAPL", "Apple Inc.", "XNAS", "stocks", "CS", "Information Technology", True, "USD",
         2_771_126_040_150, "us", "0000320193", "BBG000B9XRY4", "BBG001S5N8V8", 15_634_232_000),
        # Not asked for: untouched.
        ("IBM", "International Business Machines", "XNYS", "stocks", "CS", "Information Technology", True,
         "USD", 2, None, None, None, None, None),
        # New symbols get the column defaults where the API is silent.
        ("RDDT", "Reddit, Inc.", "XNYS", "stocks", "CS", "", True, "USD", None, None, None, None, None, None),
    ]  # fmt: skip


# --- command line ---


async def test_cli_loads_universe_and_never_logs_api_key(
    fake: FakeMassiveRest, pool: asyncpg.Pool, pg_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    await pool.execute(
        "INSERT INTO symbols (symbol, name) VALUES ('AAPL', 'Apple'), ('MSFT', 'Microsoft');"
        "INSERT INTO universes (name, kind) VALUES ('mega', 'theme');"
        "INSERT INTO universe_members (universe, symbol) VALUES ('mega', 'AAPL'), ('mega', 'MSFT')"
    )
    for symbol in ("AAPL", "MSFT"):
        fake.data.daily[symbol] = [daily_agg(d("2024-01-02"), 10.0, 12.0, 9.0, 11.0, 100)]
        fake.data.minute[symbol] = [
            minute_agg(dt.datetime(2024, 1, 2, 15, 0, tzinfo=UTC), 10, 11, 9, 10.5, 7)
        ]
        fake.data.tickers[symbol] = {"ticker": symbol, "name": f"{symbol} Corp.", "active": True}
    fake.data.rate_limited_responses = 1
    fake.data.retry_after = "0"
    caplog.set_level(logging.DEBUG)
    argv = [
        "--universe", "mega", "--from", "2024-01-02", "--to", "2024-01-02", "--bars", "daily,minute",
        "--reference", "--base-url", fake.base_url, "--max-attempts", "3",
    ]  # fmt: skip

    status = await run_cli(argv, {"MASSIVE_API_KEY": API_KEY, "TICKSTOCK_DATABASE_URL": pg_database_url})

    assert status == 0
    assert await pool.fetchval("SELECT count(*) FROM ohlcv_daily") == 2
    assert await pool.fetchval("SELECT count(*) FROM ohlcv_1min") == 2
    assert await pool.fetchval("SELECT name FROM symbols WHERE symbol = 'MSFT'") == "MSFT Corp."
    assert {request.authorization for request in fake.requests} == {f"Bearer {API_KEY}"}
    messages = [record.getMessage() for record in caplog.records]
    assert any("backfill finished" in message and "4 chunks loaded" in message for message in messages)
    assert any("HTTP 429" in message for message in messages)
    assert API_KEY not in caplog.text
    assert all(API_KEY not in message for message in messages)


async def test_cli_failed_chunk_exits_one(fake: FakeMassiveRest, pg_database_url: str) -> None:
    fake.data.fail = lambda path: 403
    argv = ["--symbols", "aapl", "--from", "2024-01-02", "--to", "2024-01-02", "--base-url", fake.base_url]

    status = await run_cli(argv, {"MASSIVE_API_KEY": API_KEY, "TICKSTOCK_DATABASE_URL": pg_database_url})

    assert status == 1
    assert fake.paths() == ["/v2/aggs/ticker/AAPL/range/1/day/2024-01-02/2024-01-02"]


async def test_cli_without_api_key_exits_two(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--symbols", "AAPL", "--from", "2024-01-02"]

    with pytest.raises(SystemExit) as exit_info:
        await run_cli(argv, {"TICKSTOCK_DATABASE_URL": "postgresql://x/y"})

    assert exit_info.value.code == 2
    assert "MASSIVE_API_KEY" in capsys.readouterr().err


def test_chunk_str_names_kind_symbol_and_days() -> None:
    chunk = Chunk(symbol="AAPL", kind="minute", first=d("2024-01-01"), last=d("2024-01-31"))

    assert str(chunk) == "minute AAPL 2024-01-01..2024-01-31"
