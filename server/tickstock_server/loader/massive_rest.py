"""Historical data from the Massive REST API through the official `massive` client, with 429 backoff."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from massive import RESTClient  # type: ignore[import-untyped]
from massive.exceptions import BadResponse  # type: ignore[import-untyped]
from urllib3.exceptions import HTTPError, InvalidHeader
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.market_session import EASTERN
from tickstock_server.errors import MassiveRestError
from tickstock_server.support.time_units import NS_PER_MS

__all__ = [
    "DailyBar",
    "MassiveRestClient",
    "RestRetryPolicy",
    "TickerReference",
]

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# massive attaches its own plain-text stdout handler to "RESTClient" at import; the loader's handler on
# the root logger already shows its records.
logging.getLogger("RESTClient").handlers.clear()

# Statuses worth another attempt: rate limiting (429, and 413 which Massive's client also retries) and
# transient server or gateway errors. Anything else (401, 403, 404) fails at once.
_RETRY_STATUSES = frozenset({413, 429, 500, 502, 503, 504})
_MAX_PAGE_ROWS = 50_000
"""Base aggregates per page; the API's maximum."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestRetryPolicy:
    """How REST requests are retried on 429, 5xx and connection errors."""

    max_attempts: int = 6
    """Attempts per request (the first included) before the request fails."""
    backoff_initial_s: float = 1.0
    """Wait before the second attempt in seconds when the response has no Retry-After; doubles per
    attempt."""
    backoff_max_s: float = 60.0
    """Longest wait between attempts in seconds (exponential backoff)."""
    retry_after_max_s: float = 120.0
    """Longest wait in seconds honoured from a Retry-After header; longer values are cut to it."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.backoff_initial_s < 0 or self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("need 0 <= backoff_initial_s <= backoff_max_s")
        if self.retry_after_max_s < 0:
            raise ValueError("retry_after_max_s must not be negative")


@dataclass(frozen=True, slots=True, kw_only=True)
class DailyBar:
    """One trading day's OHLCV bar of a symbol, as stored in ``ohlcv_daily``."""

    symbol: str
    date: dt.date
    """Trading day (US Eastern calendar date of the bar's start)."""
    open: float
    high: float
    low: float
    close: float
    volume: int
    """Shares traded that day (rounded when the API reports fractional shares)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TickerReference:
    """Reference data of one ticker; None where the API gave no value."""

    symbol: str
    name: str | None
    exchange: str | None
    """Primary listing MIC, e.g. XNAS."""
    market: str | None
    type: str | None
    """CS, ETF, ..."""
    active: bool | None
    currency: str | None
    """ISO code, upper case (USD)."""
    market_cap: int | None
    """USD, rounded."""
    locale: str | None
    cik: str | None
    composite_figi: str | None
    share_class_figi: str | None
    weighted_shares_outstanding: int | None


class _BackoffRetry(Retry):
    """urllib3's retry policy with our waits: Retry-After when given (capped), else capped exponential.

    The massive client retries inside urllib3 (its default is 3 quick retries). Installing this policy
    keeps that mechanism but with our limits, a WARNING per retry, and an injectable sleep for tests;
    when the attempts run out urllib3 raises `MaxRetryError`, which `MassiveRestClient` turns into
    `MassiveRestError`.
    """

    policy: RestRetryPolicy = RestRetryPolicy()
    sleep_fn: Callable[[float], None] = time.sleep

    def new(self, **kw: Any) -> Self:
        retry = super().new(**kw)
        retry.policy = self.policy
        retry.sleep_fn = self.sleep_fn
        return retry

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        policy = self.policy
        attempt = len(self.history)
        delay_s: float | None = None
        if response is not None and self.respect_retry_after_header:
            try:
                delay_s = self.get_retry_after(response)
            except InvalidHeader:
                delay_s = None
        if delay_s is not None:
            delay_s = min(delay_s, policy.retry_after_max_s)
        else:
            delay_s = min(policy.backoff_initial_s * 2.0 ** (attempt - 1), policy.backoff_max_s)
        last = self.history[-1] if self.history else None
        cause = (
            f"HTTP {last.status}"
            if last is not None and last.status is not None
            else type(last.error).__name__
            if last is not None and last.error is not None
            else "error"
        )
        _logger.warning(
            "REST request %s failed (%s, attempt %d of %d); retrying in %.1f s",
            last.url if last is not None else "?",
            cause,
            attempt,
            policy.max_attempts,
            delay_s,
        )
        if delay_s > 0:
            self.sleep_fn(delay_s)


def _retry(policy: RestRetryPolicy, sleep_fn: Callable[[float], None]) -> _BackoffRetry:
    retry = _BackoffRetry(
        total=policy.max_attempts - 1,
        status_forcelist=_RETRY_STATUSES,
        # A Retry-After larger than the cap is cut by sleep(); this only bounds urllib3's own parsing.
        retry_after_max=int(max(policy.retry_after_max_s, 1)),
        raise_on_status=True,
        respect_retry_after_header=True,
    )
    retry.policy = policy
    retry.sleep_fn = sleep_fn
    return retry


class MassiveRestClient:
    """Fetches daily and minute aggregates and ticker details with the official client.

    The calls block (the massive client uses urllib3); run them in a worker thread from asyncio.
    Aggregates are split-adjusted and follow ``next_url`` pagination. The API key goes in the
    Authorization header only and is never logged.
    """

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.massive.com",
        retry: RestRetryPolicy = RestRetryPolicy(),
        timeout_s: float = 30.0,
        sleep_fn: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create the client; no request is made yet.

        Args:
            api_key: Massive API key.
            base_url: Scheme, host and optional port of the API, without a trailing slash.
            retry: Retry limits for 429, 5xx and connection errors.
            timeout_s: Connect and read time limit of one request in seconds.
            sleep_fn: Waits between retries (seconds); tests pass a recorder.
        """
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._client = RESTClient(
            api_key=api_key,
            base=base_url.rstrip("/"),
            connect_timeout=timeout_s,
            read_timeout=timeout_s,
            pagination=True,
            connection_pool_kw={"retries": _retry(retry, sleep_fn)},
        )

    def close(self) -> None:
        """Close the client's pooled connections."""
        self._client.client.clear()

    def daily_bars(self, symbol: str, first: dt.date, last: dt.date) -> list[DailyBar]:
        """Return the daily bars of `symbol` for trading days `first` to `last` (inclusive), ascending.

        Raises:
            MassiveRestError: The request failed for good.
        """
        bars: list[DailyBar] = []
        for agg in self._aggs(symbol, "day", first, last):
            if agg is None:
                continue
            start = dt.datetime.fromtimestamp(agg.timestamp / 1000, tz=EASTERN)
            bars.append(
                DailyBar(
                    symbol=symbol,
                    date=start.date(),
                    open=agg.open,
                    high=agg.high,
                    low=agg.low,
                    close=agg.close,
                    volume=_volume(agg.volume),
                )
            )
        return bars

    def minute_bars(self, symbol: str, first: dt.date, last: dt.date) -> list[Bar]:
        """Return the one-minute bars of `symbol` for days `first` to `last` (inclusive), ascending.

        Raises:
            MassiveRestError: The request failed for good.
        """
        bars: list[Bar] = []
        for agg in self._aggs(symbol, "minute", first, last):
            if agg is None:
                continue
            bars.append(
                Bar(
                    symbol=symbol,
                    start_ns=agg.timestamp * NS_PER_MS,
                    open=agg.open,
                    high=agg.high,
                    low=agg.low,
                    close=agg.close,
                    volume=_volume(agg.volume),
                    ticks=int(agg.transactions or 0),
                )
            )
        return bars

    def ticker_reference(self, symbol: str) -> TickerReference:
        """Return the reference data of `symbol` (``/v3/reference/tickers/{symbol}``).

        Raises:
            MassiveRestError: The request failed for good (an unknown ticker answers 404).
        """
        details = self._call(f"ticker details of {symbol}", lambda: self._client.get_ticker_details(symbol))
        if isinstance(details, list):  # the client's answer to a response without "results"
            raise MassiveRestError(f"ticker details of {symbol}: the response has no results")
        currency = details.currency_name
        return TickerReference(
            symbol=symbol,
            name=details.name,
            exchange=details.primary_exchange,
            market=details.market,
            type=details.type,
            active=details.active,
            currency=currency.upper() if isinstance(currency, str) else None,
            market_cap=None if details.market_cap is None else round(details.market_cap),
            locale=details.locale,
            cik=details.cik,
            composite_figi=details.composite_figi,
            share_class_figi=details.share_class_figi,
            weighted_shares_outstanding=(
                None
                if details.weighted_shares_outstanding is None
                else round(details.weighted_shares_outstanding)
            ),
        )

    def _aggs(self, symbol: str, timespan: str, first: dt.date, last: dt.date) -> list[Any]:
        """All aggregates of the range, following pagination; incomplete ones become None (logged)."""
        what = f"{timespan} aggregates of {symbol} {first}..{last}"

        def fetch() -> list[Any]:
            pages: Iterable[Any] = self._client.list_aggs(
                symbol,
                1,
                timespan,
                first.isoformat(),
                last.isoformat(),
                adjusted=True,
                sort="asc",
                limit=_MAX_PAGE_ROWS,
            )
            return list(pages)

        aggs = self._call(what, fetch)
        incomplete = 0
        for index, agg in enumerate(aggs):
            if None in (agg.timestamp, agg.open, agg.high, agg.low, agg.close):
                aggs[index] = None
                incomplete += 1
        if incomplete:
            _logger.warning("%s: skipped %d aggregates without time or prices", what, incomplete)
        return aggs

    @staticmethod
    def _call(what: str, call: Callable[[], _T]) -> _T:
        try:
            return call()
        except BadResponse as exc:
            raise MassiveRestError(f"{what}: the API refused the request ({_body_excerpt(exc)})") from exc
        except HTTPError as exc:  # MaxRetryError when the attempts ran out, or another transport error
            reason = getattr(exc, "reason", None) or exc
            raise MassiveRestError(f"{what}: request failed ({type(exc).__name__}: {reason})") from exc


def _volume(volume: float | None) -> int:
    return 0 if volume is None else round(volume)


def _body_excerpt(exc: BadResponse) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:200] + "..."
