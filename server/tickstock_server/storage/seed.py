"""Seed reference data: reads the packaged symbol and universe files and loads them once per version.

The data set is ``symbols.csv`` and ``universes.json`` in a directory (by default the packaged
``seed_data``). `load_seed_data` records the SHA-256 of both files in ``seed_state``: with the same files
it does nothing, and with changed files it loads them again in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import asyncpg

from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.universes import (
    UNIVERSE_NAME_PATTERN,
    SymbolInfo,
    Universe,
    UniverseKind,
)
from tickstock_server.errors import SeedDataError
from tickstock_server.storage.database import map_asyncpg_errors

_logger = logging.getLogger(__name__)

SYMBOLS_FILE = "symbols.csv"
UNIVERSES_FILE = "universes.json"
SEED_NAME = "reference_data"
"""Row of ``seed_state`` recording the loaded data set."""

_SYMBOL_FIELDS = (
    "symbol",
    "name",
    "exchange",
    "market",
    "type",
    "sector",
    "industry",
    "active",
    "currency",
    "market_cap_usd",
)
_STORED_KINDS = frozenset(kind for kind in UniverseKind if kind is not UniverseKind.UNION)

# Two-key advisory lock: servers starting together load the data once, one after the other.
_LOCK_NAMESPACE = 0x5EED
_LOCK_KEY = 1

_UPSERT_SYMBOL = """
INSERT INTO symbols (symbol, name, exchange, market, type, sector, industry, active, currency, market_cap)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (symbol) DO UPDATE SET
    name = EXCLUDED.name, exchange = EXCLUDED.exchange, market = EXCLUDED.market, type = EXCLUDED.type,
    sector = EXCLUDED.sector, industry = EXCLUDED.industry, active = EXCLUDED.active,
    currency = EXCLUDED.currency, market_cap = EXCLUDED.market_cap, updated_at = now()
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedData:
    """A parsed, checked seed data set."""

    as_of: str
    """Date the memberships were taken from, ISO format."""
    symbols: tuple[SymbolInfo, ...]
    universes: tuple[Universe, ...]
    """Stored universes (never UNION), members sorted; sector universes already derived."""
    checksum: str
    """Hex SHA-256 over both files, identifying this data set."""


def default_seed_dir() -> Traversable:
    """The packaged seed data directory."""
    return files("tickstock_server.storage") / "seed_data"


def read_seed_data(directory: Traversable | None = None) -> SeedData:
    """Read and check the seed files of `directory` (default: the packaged ones).

    Raises:
        SeedDataError: A file is missing or malformed, or a universe names a symbol not in the CSV.
    """
    source = directory if directory is not None else default_seed_dir()
    try:
        symbols_bytes = (source / SYMBOLS_FILE).read_bytes()
        universes_bytes = (source / UNIVERSES_FILE).read_bytes()
    except OSError as exc:
        raise SeedDataError(f"cannot read the seed data files in {source}: {exc.strerror}") from exc
    digest = hashlib.sha256()
    for name, content in ((SYMBOLS_FILE, symbols_bytes), (UNIVERSES_FILE, universes_bytes)):
        digest.update(f"{name}\0{len(content)}\0".encode())
        digest.update(content)
    symbols = _parse_symbols(symbols_bytes.decode("utf-8"))
    as_of, universes = _parse_universes(universes_bytes, {symbol.symbol: symbol for symbol in symbols})
    return SeedData(as_of=as_of, symbols=symbols, universes=universes, checksum=digest.hexdigest())


async def load_seed_data(pool: asyncpg.Pool, directory: Traversable | None = None) -> bool:
    """Load the seed data into the database unless this very data set is loaded already.

    Symbols are upserted (symbols no longer in the file stay, as bars and watchlists may name them);
    the stored universes are replaced by those of the file. Run after `apply_migrations`.

    Args:
        pool: Pool on a migrated database.
        directory: Seed data directory; the packaged one when omitted.

    Returns:
        True if the data was loaded, False if the database already had this data set.

    Raises:
        SeedDataError: The files are malformed.
        DependencyUnavailableError: PostgreSQL is unreachable.
    """
    data = read_seed_data(directory)
    with map_asyncpg_errors():
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_NAMESPACE, _LOCK_KEY)
            loaded = await conn.fetchval("SELECT checksum FROM seed_state WHERE name = $1", SEED_NAME)
            if loaded == data.checksum:
                return False
            await _write(conn, data)
    _logger.info(
        "loaded seed data as of %s: %d symbols, %d universes",
        data.as_of,
        len(data.symbols),
        len(data.universes),
    )
    return True


async def _write(conn: asyncpg.Connection, data: SeedData) -> None:
    await conn.executemany(
        _UPSERT_SYMBOL,
        [
            (
                s.symbol,
                s.name,
                s.exchange,
                s.market,
                s.type,
                s.sector,
                s.industry,
                s.active,
                s.currency,
                s.market_cap_usd,
            )
            for s in data.symbols
        ],
    )
    # Memberships go with their universes (ON DELETE CASCADE).
    await conn.execute("DELETE FROM universes")
    await conn.executemany(
        "INSERT INTO universes (name, description, kind) VALUES ($1, $2, $3)",
        [(u.name, u.description, u.kind.value) for u in data.universes],
    )
    await conn.copy_records_to_table(
        "universe_members",
        records=[(u.name, symbol) for u in data.universes for symbol in u.symbols],
        columns=("universe", "symbol"),
    )
    await conn.execute(
        "INSERT INTO seed_state (name, checksum, as_of) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, as_of = EXCLUDED.as_of,"
        " loaded_at = now()",
        SEED_NAME,
        data.checksum,
        data.as_of,
    )


def _parse_symbols(text: str) -> tuple[SymbolInfo, ...]:
    lines = (line for line in io.StringIO(text) if not line.startswith("#"))
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != _SYMBOL_FIELDS:
        raise SeedDataError(f"{SYMBOLS_FILE}: the header must be {','.join(_SYMBOL_FIELDS)}")
    symbols: dict[str, SymbolInfo] = {}
    for row in reader:
        where = f"{SYMBOLS_FILE} line {reader.line_num}"
        symbol = row["symbol"]
        if not is_symbol(symbol):
            raise SeedDataError(f"{where}: {symbol!r} is not a ticker")
        if symbol in symbols:
            raise SeedDataError(f"{where}: {symbol} appears twice")
        if not row["name"] or row["active"] not in ("true", "false"):
            raise SeedDataError(f"{where}: a name is required and active must be true or false")
        cap = row["market_cap_usd"]
        if cap and not cap.isdigit():
            raise SeedDataError(f"{where}: market_cap_usd must be whole US dollars or empty")
        symbols[symbol] = SymbolInfo(
            symbol=symbol,
            name=row["name"],
            exchange=row["exchange"],
            market=row["market"],
            type=row["type"],
            sector=row["sector"],
            industry=row["industry"],
            active=row["active"] == "true",
            currency=row["currency"],
            market_cap_usd=int(cap) if cap else None,
        )
    return tuple(symbols.values())


def _parse_universes(content: bytes, symbols: Mapping[str, SymbolInfo]) -> tuple[str, tuple[Universe, ...]]:
    try:
        document: Any = json.loads(content)
        as_of = document["as_of"]
        entries = document["universes"]
        if not isinstance(as_of, str) or not isinstance(entries, list):
            raise TypeError("as_of must be a string and universes a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise SeedDataError(f"{UNIVERSES_FILE}: {exc}") from exc
    universes: dict[str, Universe] = {}
    # Derived universes refer to explicit ones, so explicit ones are built first.
    for entry in sorted(entries, key=lambda item: "derive" in item):
        universe = _universe(entry, symbols, universes)
        if universe.name in universes:
            raise SeedDataError(f"{UNIVERSES_FILE}: universe {universe.name} appears twice")
        universes[universe.name] = universe
    return as_of, tuple(universes[name] for name in sorted(universes))


def _universe(entry: Any, symbols: Mapping[str, SymbolInfo], built: Mapping[str, Universe]) -> Universe:
    try:
        name, description, kind = entry["name"], entry["description"], UniverseKind(entry["kind"])
        members = _derive(entry["derive"], symbols, built) if "derive" in entry else entry["symbols"]
    except (KeyError, TypeError, ValueError) as exc:
        raise SeedDataError(f"{UNIVERSES_FILE}: malformed universe {entry!r:.80}: {exc}") from exc
    if not isinstance(name, str) or UNIVERSE_NAME_PATTERN.fullmatch(name) is None:
        raise SeedDataError(f"{UNIVERSES_FILE}: universe name {name!r} is not lower_snake_case")
    if kind not in _STORED_KINDS:
        raise SeedDataError(f"{UNIVERSES_FILE}: universe {name} cannot be stored with kind {kind.value}")
    unknown = sorted(set(members) - symbols.keys())
    if unknown:
        raise SeedDataError(
            f"{UNIVERSES_FILE}: universe {name} names symbols not in {SYMBOLS_FILE}: {unknown}"
        )
    if len(set(members)) != len(members):
        raise SeedDataError(f"{UNIVERSES_FILE}: universe {name} lists a symbol twice")
    return Universe(name=name, description=str(description), kind=kind, symbols=tuple(sorted(members)))


def _derive(
    rule: Mapping[str, str], symbols: Mapping[str, SymbolInfo], built: Mapping[str, Universe]
) -> list[str]:
    """Members of universe ``rule["universe"]`` whose GICS sector is ``rule["sector"]``."""
    base = built.get(rule["universe"])
    if base is None:
        raise KeyError(f"derive: no explicit universe {rule['universe']!r}")
    members = [symbol for symbol in base.symbols if symbols[symbol].sector == rule["sector"]]
    if not members:
        raise ValueError(f"derive: no member of {rule['universe']} has sector {rule['sector']!r}")
    return members
