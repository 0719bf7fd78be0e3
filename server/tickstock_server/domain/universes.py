"""Reference data and watchlists: symbols, named universes, universe keys and watchlist validation."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.errors import FieldViolation, InvalidRequestError, NotFoundError

UNIVERSE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
"""Universe name syntax: lower_snake_case, a letter first, at most 64 characters."""

UNION_SEPARATOR = ":"
"""Joins universe names into a union key, e.g. ``sp500:nasdaq100``."""

MAX_UNION_PARTS = 16
"""Most universes one key may join; more is a malformed request, not a useful union."""

MAX_WATCHLIST_NAME_CHARS = 100
"""Longest watchlist name, in characters (code points)."""


class UniverseKind(enum.Enum):
    """What a universe is built from."""

    INDEX = "index"
    ETF = "etf"
    SECTOR = "sector"
    THEME = "theme"
    UNION = "union"
    """A union of other universes, computed on read from a key like ``sp500:nasdaq100``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolInfo:
    """A tradable symbol and its reference data."""

    symbol: str
    """Ticker, upper case, e.g. "AAPL" or "BRK.B"."""
    name: str
    """Company or fund name."""
    exchange: str
    """Primary listing's MIC, e.g. "XNAS", "XNYS", "ARCX", "BATS"."""
    market: str = "stocks"
    """Market, e.g. "stocks"."""
    type: str = "CS"
    """Security type: "CS" (common stock) or "ETF"."""
    sector: str = ""
    """GICS sector, e.g. "Information Technology"; empty when unknown."""
    industry: str = ""
    """GICS sub-industry, e.g. "Semiconductors"; empty when unknown."""
    active: bool = True
    """Whether the symbol is actively traded."""
    currency: str = "USD"
    """Currency of its prices."""
    market_cap_usd: int | None = None
    """Approximate market capitalisation in US dollars; None when unknown."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UniverseSummary:
    """A universe without its members, as listed."""

    name: str
    description: str
    kind: UniverseKind
    member_count: int
    """Number of member symbols."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Universe:
    """A named set of symbols, or the union of several (kind UNION, name ``a:b``)."""

    name: str
    """Universe name, or the union key naming its parts."""
    description: str
    kind: UniverseKind
    symbols: tuple[str, ...]
    """Member tickers, sorted, distinct."""

    @property
    def member_count(self) -> int:
        """Number of member symbols."""
        return len(self.symbols)


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolSearch:
    """Which symbols a listing holds: a search text and two filters, each empty for "any"."""

    query: str = ""
    """Case-insensitive: tickers starting with it, or names containing it."""
    market: str = ""
    """Only this market (case-insensitive), e.g. "stocks"."""
    symbol_type: str = ""
    """Only this security type (case-insensitive), e.g. "CS" or "ETF"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SymbolPage:
    """One page of a symbol listing."""

    symbols: tuple[SymbolInfo, ...]
    """Symbols sorted by ticker (bytewise)."""
    has_more: bool
    """Whether symbols after the last of this page match too."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Watchlist:
    """A user's named, ordered list of symbols."""

    watchlist_id: str
    """Server-assigned id."""
    user: str
    """Owner's user name; only the owner can see or change it."""
    name: str
    """Name, unique per user, 1 to 100 characters."""
    symbols: tuple[str, ...]
    """Tickers in the user's order, distinct."""
    create_ns: int
    """Creation time, UTC epoch nanoseconds."""
    update_ns: int
    """Time of the last change, UTC epoch nanoseconds."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchlistLimits:
    """Per-user bounds on watchlists."""

    max_watchlists_per_user: int = 100
    """Most watchlists one user may have."""
    max_symbols_per_watchlist: int = 500
    """Most symbols in one watchlist."""


def parse_universe_key(key: str, *, field: str = "name") -> tuple[str, ...]:
    """Split a universe key into its universe names: ``sp500`` -> one, ``sp500:nasdaq100`` -> two.

    Repeated names count once; the order of first appearance is kept.

    Args:
        key: A universe name, or names joined by ``:``.
        field: Request field named in a violation.

    Raises:
        InvalidRequestError: The key is empty, has an empty part, a part that is not lower_snake_case,
            or more than `MAX_UNION_PARTS` parts.
    """
    if not key:
        raise InvalidRequestError([FieldViolation(field, "must name a universe")])
    parts = key.split(UNION_SEPARATOR)
    if len(parts) > MAX_UNION_PARTS:
        raise InvalidRequestError(
            [FieldViolation(field, f"joins {len(parts)} universes; at most {MAX_UNION_PARTS} are allowed")]
        )
    violations = [
        FieldViolation(field, f"universe name {part!r} is not lower_snake_case (a-z, 0-9, _; 1 to 64)")
        for part in parts
        if UNIVERSE_NAME_PATTERN.fullmatch(part) is None
    ]
    if violations:
        raise InvalidRequestError(violations)
    return tuple(dict.fromkeys(parts))


def parse_universe_keys(keys: Sequence[str]) -> tuple[str, ...]:
    """The distinct universe names of several keys, in order of first appearance.

    Raises:
        InvalidRequestError: With every malformed key, each as field ``universes[i]``.
    """
    names: dict[str, None] = {}
    violations: list[FieldViolation] = []
    for index, key in enumerate(keys):
        try:
            names.update(dict.fromkeys(parse_universe_key(key, field=f"universes[{index}]")))
        except InvalidRequestError as exc:
            violations.extend(exc.violations)
    if violations:
        raise InvalidRequestError(violations)
    return tuple(names)


def union_key(names: Sequence[str]) -> str:
    """Join universe names into the key naming their union."""
    return UNION_SEPARATOR.join(names)


def watchlist_not_found(watchlist_id: str) -> NotFoundError:
    """The error for an id that names none of the caller's watchlists (another user's included)."""
    return NotFoundError(f"no watchlist {watchlist_id!r}")


def watchlist_name_violations(name: str, *, field: str = "watchlist.name") -> list[FieldViolation]:
    """Return what is wrong with a watchlist name: empty, too long, padded or with control characters."""
    if not name:
        return [FieldViolation(field, "must not be empty")]
    if len(name) > MAX_WATCHLIST_NAME_CHARS:
        return [FieldViolation(field, f"must be at most {MAX_WATCHLIST_NAME_CHARS} characters")]
    if name != name.strip():
        return [FieldViolation(field, "must not start or end with white space")]
    if any(not character.isprintable() for character in name):
        return [FieldViolation(field, "must not contain control characters")]
    return []


def watchlist_symbol_violations(
    symbols: Sequence[str], *, field: str = "watchlist.symbols"
) -> list[FieldViolation]:
    """Return the tickers that are malformed or repeated, each as ``field[index]``.

    Whether each ticker exists is for the store to check.
    """
    violations: list[FieldViolation] = []
    first_index: dict[str, int] = {}
    for index, symbol in enumerate(symbols):
        if not is_symbol(symbol):
            violations.append(
                FieldViolation(
                    f"{field}[{index}]",
                    "is not a ticker: an upper-case letter, then up to 14 of A-Z, 0-9, '.', '-'",
                )
            )
        elif symbol in first_index:
            violations.append(
                FieldViolation(f"{field}[{index}]", f"repeats {field}[{first_index[symbol]}] ({symbol})")
            )
        else:
            first_index[symbol] = index
    return violations
