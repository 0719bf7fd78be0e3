"""Backtest submissions: what a client may ask for, and the validation that turns it into a `BacktestSpec`."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tickstock_server.domain.backtests import BacktestParameters
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError

MAX_SYMBOLS = 50
"""Most distinct symbols in one backtest."""
MAX_PATTERNS = 50
"""Most distinct pattern names in one backtest."""
MAX_SPAN_DAYS = 1825
"""Longest backtest period: `end_date` at most this many days after `start_date` (five years)."""
MIN_YEAR = 1900
"""Earliest year of a backtest date."""
PATTERN_NAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,64}")
"""Pattern name syntax, e.g. "Bull_Flag": 1 to 64 letters, digits or underscores; use `fullmatch`."""

# A flood of bad items (10,000 malformed symbols) must not produce a status larger than gRPC's trailer
# limit: only the first few items are reported one by one.
_MAX_ITEM_VIOLATIONS = 10

DateParts = tuple[int, int, int]
"""A date as sent, (year, month, day), not yet known to exist."""

_Check = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class _Range:
    low: float
    high: float
    low_inclusive: bool

    def contains(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        return math.isfinite(value) and above and value <= self.high

    def describe(self) -> str:
        return f"{'[' if self.low_inclusive else '('}{self.low:g}, {self.high:g}]"


PARAMETER_RANGES: Mapping[str, _Range] = MappingProxyType(
    {
        "initial_capital": _Range(0.0, 1e12, low_inclusive=False),
        "commission_rate": _Range(0.0, 0.01, low_inclusive=True),
        "slippage_rate": _Range(0.0, 0.01, low_inclusive=True),
        "max_position_size": _Range(0.0, 1.0, low_inclusive=False),
        "stop_loss_pct": _Range(0.0, 1.0, low_inclusive=False),
        "take_profit_pct": _Range(0.0, 10.0, low_inclusive=False),
    }
)
"""Allowed range of every `BacktestParameters` field."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestSubmission:
    """A backtest request as the client sent it, before validation."""

    symbols: tuple[str, ...]
    start_date: DateParts | None
    """None when the client sent no start date."""
    end_date: DateParts | None
    """None when the client sent no end date."""
    patterns: tuple[str, ...]
    parameters: Mapping[str, float] = field(default_factory=dict)
    """The parameters the client set, by `BacktestParameters` field name; the others take the defaults."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestSpec:
    """A validated backtest request."""

    symbols: tuple[str, ...]
    """Upper-case tickers, distinct, in the client's order; 1 to `MAX_SYMBOLS`."""
    start_date: dt.date
    """First day (inclusive)."""
    end_date: dt.date
    """Last day (inclusive); after `start_date`, at most `MAX_SPAN_DAYS` later, not in the future."""
    patterns: tuple[str, ...]
    """Pattern names, distinct, in the client's order; 1 to `MAX_PATTERNS`."""
    parameters: BacktestParameters


def validate_submission(submission: BacktestSubmission, *, today: dt.date) -> BacktestSpec:
    """Check a submission and normalise it (upper-case, distinct symbols; defaults for unset parameters).

    Args:
        submission: The request as sent.
        today: The current date (UTC); `end_date` may not be later.

    Raises:
        InvalidRequestError: Every violation at once, with proto field paths (``symbols[3]``,
            ``end_date``, ``parameters.commission_rate``, ...).
    """
    violations: list[FieldViolation] = []
    symbols = _distinct(submission.symbols, _symbol_violation, "symbols", violations, upper=True)
    if not symbols and not violations:
        violations.append(FieldViolation("symbols", "must name at least one symbol"))
    elif len(symbols) > MAX_SYMBOLS:
        violations.append(
            FieldViolation("symbols", f"names {len(symbols)} distinct symbols; at most {MAX_SYMBOLS}")
        )
    patterns = _distinct(submission.patterns, _pattern_violation, "patterns", violations, upper=False)
    if not patterns and not any(v.field.startswith("patterns") for v in violations):
        violations.append(FieldViolation("patterns", "must name at least one pattern"))
    elif len(patterns) > MAX_PATTERNS:
        violations.append(
            FieldViolation("patterns", f"names {len(patterns)} distinct patterns; at most {MAX_PATTERNS}")
        )
    start = _date(submission.start_date, "start_date", violations)
    end = _date(submission.end_date, "end_date", violations)
    if start is not None and end is not None:
        violations.extend(_period_violations(start, end, today))
    parameters = _parameters(submission.parameters, violations)
    if violations or start is None or end is None:
        raise InvalidRequestError(violations)
    return BacktestSpec(
        symbols=symbols, start_date=start, end_date=end, patterns=patterns, parameters=parameters
    )


def _symbol_violation(symbol: str) -> str | None:
    if not is_symbol(symbol):
        return "is not a ticker: a letter, then up to 14 of A-Z, 0-9, '.', '-'"
    return None


def _pattern_violation(name: str) -> str | None:
    if PATTERN_NAME_PATTERN.fullmatch(name) is None:
        return "is not a pattern name: 1 to 64 of A-Z, a-z, 0-9, '_'"
    return None


def _distinct(
    items: tuple[str, ...],
    check: _Check,
    field_name: str,
    violations: list[FieldViolation],
    *,
    upper: bool,
) -> tuple[str, ...]:
    """The well-formed items, normalised, first occurrence kept; malformed ones become violations."""
    kept: dict[str, None] = {}
    bad = 0
    for index, raw in enumerate(items):
        item = raw.strip().upper() if upper else raw.strip()
        problem = check(item)
        if problem is None:
            kept[item] = None
            continue
        bad += 1
        if bad <= _MAX_ITEM_VIOLATIONS:
            violations.append(FieldViolation(f"{field_name}[{index}]", f"{raw[:80]!r} {problem}"))
    if bad > _MAX_ITEM_VIOLATIONS:
        violations.append(
            FieldViolation(field_name, f"{bad - _MAX_ITEM_VIOLATIONS} more malformed items not listed")
        )
    return tuple(kept)


def _date(parts: DateParts | None, field_name: str, violations: list[FieldViolation]) -> dt.date | None:
    if parts is None:
        violations.append(FieldViolation(field_name, "is required"))
        return None
    year, month, day = parts
    try:
        if year < MIN_YEAR:
            raise ValueError(year)
        return dt.date(year, month, day)
    except ValueError:
        violations.append(
            FieldViolation(
                field_name,
                f"{year:04d}-{month:02d}-{day:02d} is not a date"
                f" (year {MIN_YEAR} to 9999, month 1 to 12, a day of that month)",
            )
        )
        return None


def _period_violations(start: dt.date, end: dt.date, today: dt.date) -> list[FieldViolation]:
    violations: list[FieldViolation] = []
    if end <= start:
        violations.append(FieldViolation("end_date", f"must be after start_date ({start.isoformat()})"))
    elif (end - start).days > MAX_SPAN_DAYS:
        violations.append(
            FieldViolation(
                "end_date",
                f"is {(end - start).days} days after start_date; at most {MAX_SPAN_DAYS} are allowed",
            )
        )
    if end > today:
        violations.append(
            FieldViolation("end_date", f"must not be in the future (today is {today.isoformat()} UTC)")
        )
    return violations


def _parameters(given: Mapping[str, float], violations: list[FieldViolation]) -> BacktestParameters:
    values: dict[str, float] = {}
    for name, value in given.items():
        allowed = PARAMETER_RANGES.get(name)
        if allowed is None:
            violations.append(FieldViolation(f"parameters.{name}", "is not a backtest parameter"))
        elif not allowed.contains(value):
            violations.append(
                FieldViolation(f"parameters.{name}", f"is {value:g}; must be in {allowed.describe()}")
            )
        else:
            values[name] = float(value)
    return BacktestParameters(**values)
