"""A local fake of the Massive (Polygon) REST API: aggregates with next_url paging, ticker details, 429s.

It answers the paths and JSON shapes the official `massive` RESTClient calls, on 127.0.0.1 with a free
port, from a server thread; it records every request it gets.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

_EASTERN = ZoneInfo("America/New_York")


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedRequest:
    """One request the fake got."""

    path: str
    query: dict[str, str]
    authorization: str | None


@dataclass(slots=True, kw_only=True)
class FakeMassiveData:
    """What the fake serves and how it misbehaves; tests change it between runs."""

    daily: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Daily aggregates per ticker, in the API's wire shape (t in epoch ms, o, h, l, c, v, vw, n)."""
    minute: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Minute aggregates per ticker, same shape."""
    tickers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Ticker details per ticker (the "results" object of /v3/reference/tickers/{ticker})."""
    page_size: int = 50_000
    """Aggregates per page; more are answered with a next_url."""
    rate_limited_responses: int = 0
    """Answer this many of the next requests with 429 (counts down)."""
    retry_after: str | None = None
    """Retry-After header value of the 429 answers; None for no header."""
    fail: Callable[[str], int | None] = lambda _path: None
    """Status to answer a request path with for good (e.g. 404 or 500); None to answer normally."""
    delay_s: float = 0.0
    """Seconds every answer waits before it is sent (so that concurrent requests overlap)."""
    hold_after: int | None = None
    """Answer this many requests, then hold every later one until `FakeMassiveRest.release` is set (so
    that a client can be interrupted in the middle however fast it runs); None holds nothing."""


def ms(when: dt.datetime) -> int:
    """Epoch milliseconds of `when` (an aware datetime)."""
    return int(when.timestamp() * 1000)


class FakeMassiveRest:
    """The fake server; use as a context manager. `base_url` is what the client's ``base`` takes."""

    def __init__(self, *, api_key: str) -> None:
        self.api_key = api_key
        self.data = FakeMassiveData()
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        """Requests being answered now."""
        self.max_in_flight = 0
        """Most requests answered at the same time so far."""
        self.release = threading.Event()
        """Lets the requests `FakeMassiveData.hold_after` holds go on."""
        self._arrived = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-massive-rest", daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeMassiveRest:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def paths(self) -> list[str]:
        """Paths of the requests so far (with the cursor query of paged ones)."""
        with self._lock:
            return [
                request.path + (f"?cursor={request.query['cursor']}" if "cursor" in request.query else "")
                for request in self.requests
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def _answer(
        self, path: str, query: dict[str, str], authorization: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            self.requests.append(RecordedRequest(path=path, query=query, authorization=authorization))
            if authorization != f"Bearer {self.api_key}":
                return 401, {"status": "ERROR", "request_id": "r", "error": "Unknown API Key"}, {}
            if self.data.rate_limited_responses > 0:
                self.data.rate_limited_responses -= 1
                headers = {} if self.data.retry_after is None else {"Retry-After": self.data.retry_after}
                body = {"status": "ERROR", "request_id": "r", "error": "You've exceeded the maximum requests"}
                return 429, body, headers
        status = self.data.fail(path)
        if status is not None:
            return status, {"status": "ERROR", "request_id": "r", "error": "injected failure"}, {}
        parts = path.strip("/").split("/")
        if len(parts) == 9 and parts[:3] == ["v2", "aggs", "ticker"] and parts[4] == "range":
            # /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}; multiplier 1 only
            return self._aggs(parts[3], parts[6], parts[7], parts[8], path, query)
        if len(parts) == 4 and parts[:3] == ["v3", "reference", "tickers"]:
            details = self.data.tickers.get(parts[3])
            if details is None:
                return 404, {"status": "NOT_FOUND", "request_id": "r", "message": "Ticker not found."}, {}
            return 200, {"status": "OK", "request_id": "r", "results": details}, {}
        return 404, {"status": "NOT_FOUND", "request_id": "r", "message": "unknown path"}, {}

    def _aggs(
        self, ticker: str, timespan: str, first: str, last: str, path: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        store = {"day": self.data.daily, "minute": self.data.minute}.get(timespan)
        if store is None:
            return 400, {"status": "ERROR", "request_id": "r", "error": "unsupported timespan"}, {}
        first_day, last_day = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
        # The API's date range is in US Eastern calendar days.
        matching = [
            agg
            for agg in sorted(store.get(ticker, []), key=lambda agg: agg["t"])
            if first_day <= dt.datetime.fromtimestamp(agg["t"] / 1000, tz=_EASTERN).date() <= last_day
        ]
        offset = int(base64.urlsafe_b64decode(query["cursor"]).decode()) if "cursor" in query else 0
        page = matching[offset : offset + self.data.page_size]
        body: dict[str, Any] = {
            "ticker": ticker,
            "queryCount": len(matching),
            "resultsCount": len(page),
            "adjusted": True,
            "status": "OK",
            "request_id": "r",
        }
        if page:  # the real API leaves "results" out when there are none
            body["results"] = page
        if offset + len(page) < len(matching):
            cursor = base64.urlsafe_b64encode(str(offset + len(page)).encode()).decode()
            body["next_url"] = f"{self.base_url}{path}?cursor={cursor}"
        return 200, body, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                    arrived, fake._arrived = fake._arrived, fake._arrived + 1
                try:
                    hold_after = fake.data.hold_after
                    if hold_after is not None and arrived >= hold_after:
                        fake.release.wait(120)
                    time.sleep(fake.data.delay_s)
                    status, body, headers = fake._answer(
                        url.path, dict(parse_qsl(url.query)), self.headers.get("Authorization")
                    )
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                payload = json.dumps(body).encode()
                self.send_response(status, HTTPStatus(status).phrase)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the default writes every request to stderr

        return Handler


def iter_days(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    """Every day from `first` to `last`, inclusive."""
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Weekdays from `first` to `last`, inclusive (holidays are not special here)."""
    return [day for day in iter_days(first, last) if day.weekday() < 5]


def serve_history(fake: FakeMassiveRest, symbols: Sequence[str], first: dt.date, last: dt.date) -> None:
    """Serve one daily bar and three minute bars (10:00-10:02 ET) per weekday and symbol.

    Prices differ per symbol (the i-th symbol's open is 100 + 10 i) and the daily close and volume per
    day (close = open + day of month, volume = 1000 x day of month); a day's minute volumes do not add
    up to its daily volume, so a test can tell which of the two a day bar came from.
    """
    for index, symbol in enumerate(symbols):
        base = 100.0 + 10 * index
        fake.data.daily[symbol] = [
            {"t": ms(dt.datetime(day.year, day.month, day.day, tzinfo=_EASTERN)), "o": base, "h": base + 2,
             "l": base - 2, "c": base + day.day, "v": 1_000 * day.day, "vw": base, "n": 9}
            for day in trading_days(first, last)
        ]  # fmt: skip
        fake.data.minute[symbol] = [
            {"t": ms(dt.datetime(day.year, day.month, day.day, 10, minute, tzinfo=_EASTERN)), "o": base,
             "h": base + 1, "l": base - 1, "c": base + minute / 10, "v": 10 * day.day + minute, "vw": base,
             "n": 2}
            for day in trading_days(first, last)
            for minute in range(3)
        ]  # fmt: skip
