"""The event filter options (`stream`, `watch`, `preset save`), resume files, and `tickstock stream`."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tickstock_client._cli_args import UsageError, split
from tickstock_client._client import AsyncClient
from tickstock_client._json import to_json
from tickstock_client._models import (
    Direction,
    Event,
    EventFilter,
    EventType,
    ResumeToken,
    SurgeStrength,
    TrendStrength,
)
from tickstock_client._streaming import EventStream

__all__ = [
    "ResumeFile",
    "add_filter_options",
    "add_stream_options",
    "event_filter",
    "open_stream",
    "print_events",
]

_TYPES = {t.value: t for t in EventType if t is not EventType.UNKNOWN}
_DIRECTIONS = {d.value: d for d in Direction if d is not Direction.UNKNOWN}
_STRENGTHS = [s.value for s in TrendStrength if s is not TrendStrength.UNKNOWN]
# How often --resume-file is rewritten while events flow (and always when the stream ends).
_SAVE_EVERY_S = 1.0


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """The options of an event filter; empty or missing ones select everything."""
    parser.add_argument("--symbols", default="", help="comma-separated tickers; empty means all")
    parser.add_argument("--universes", default="", help="comma-separated universe names")
    parser.add_argument("--watchlists", default="", help="comma-separated watchlist ids")
    parser.add_argument("--types", default="", help=f"comma-separated event types: {', '.join(_TYPES)}")
    parser.add_argument("--directions", default="", help="comma-separated: up, down (default both)")
    parser.add_argument(
        "--min-significance", type=float, help="minimum significance of high and low events, 0 to 100"
    )
    parser.add_argument("--min-trend-strength", choices=_STRENGTHS, help="minimum strength of trend events")
    parser.add_argument("--min-surge-strength", choices=_STRENGTHS, help="minimum strength of surge events")
    parser.add_argument(
        "--min-pattern-confidence", type=float, help="minimum confidence of pattern events, 0 to 1"
    )
    parser.add_argument("--min-price", type=float, help="minimum event price, inclusive")
    parser.add_argument("--max-price", type=float, help="maximum event price, inclusive")
    parser.add_argument("--min-volume", type=int, help="minimum tick volume, inclusive")
    parser.add_argument("--max-volume", type=int, help="maximum tick volume, inclusive")


def add_stream_options(parser: argparse.ArgumentParser) -> None:
    """The filter options plus --preset, --limit and --resume-file, as `stream` and `watch` take them."""
    add_filter_options(parser)
    parser.add_argument("--preset", default="", help="a saved filter preset instead of the filter options")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many events (0: never)")
    parser.add_argument(
        "--resume-file",
        type=Path,
        help="read the resume token from this file at start, keep it there while streaming",
    )


def _choices(text: str, known: Mapping[str, object], what: str) -> list[str]:
    unknown = [word for word in split(text) if word not in known]
    if unknown:
        raise UsageError(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return list(split(text))


def event_filter(args: argparse.Namespace) -> EventFilter:
    """The filter the options of `add_filter_options` describe."""
    types = _choices(args.types, _TYPES, "event types")
    directions = _choices(args.directions, _DIRECTIONS, "directions")
    return EventFilter(
        symbols=tuple(s.upper() for s in split(args.symbols)),
        universes=split(args.universes),
        watchlist_ids=split(args.watchlists),
        event_types=tuple(_TYPES[t] for t in types),
        directions=tuple(_DIRECTIONS[d] for d in directions),
        min_significance=args.min_significance,
        min_trend_strength=TrendStrength(args.min_trend_strength) if args.min_trend_strength else None,
        min_surge_strength=SurgeStrength(args.min_surge_strength) if args.min_surge_strength else None,
        min_pattern_confidence=args.min_pattern_confidence,
        min_price=args.min_price,
        max_price=args.max_price,
        min_volume=args.min_volume,
        max_volume=args.max_volume,
    )


class ResumeFile:
    """The --resume-file: read once at the start, rewritten at most once a second, and at the end."""

    def __init__(self, path: Path | None, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._monotonic = monotonic
        self._saved_at = monotonic()

    def read(self) -> ResumeToken | None:
        """The token in the file; None without a file (a new stream starts live)."""
        if self._path is None or not self._path.exists():
            return None
        try:
            return ResumeToken.parse(self._path.read_text())
        except ValueError as exc:
            raise UsageError(f"{self._path}: {exc}") from None

    def keep(self, token: ResumeToken | None) -> None:
        """Save `token` when the last save is a second old."""
        if self._monotonic() - self._saved_at >= _SAVE_EVERY_S:
            self.save(token)

    def save(self, token: ResumeToken | None) -> None:
        """Save `token` now (nothing to save without a file or a token)."""
        self._saved_at = self._monotonic()
        if self._path is None or token is None:
            return
        partial = self._path.with_name(self._path.name + ".partial")
        partial.write_text(f"{token}\n")
        partial.replace(self._path)  # atomic: a crash never leaves half a token


def open_stream(client: AsyncClient, args: argparse.Namespace, resume: ResumeFile) -> EventStream:
    """The event stream the options of `add_stream_options` describe, from the token in `resume`."""
    return client.stream_events(event_filter(args), preset_name=args.preset, resume_token=resume.read())


async def print_events(client: AsyncClient, args: argparse.Namespace) -> int:
    """`tickstock stream`: events as JSON lines on stdout, notices as JSON lines on stderr."""
    resume = ResumeFile(args.resume_file)
    stream = open_stream(client, args, resume)
    received = 0
    try:
        async for item in stream:
            if isinstance(item, Event):
                print(to_json(item), flush=True)
                received += 1
            else:  # notices go to stderr, so stdout stays one event per line
                print(to_json(item, notice=type(item).__name__), file=sys.stderr, flush=True)
            resume.keep(stream.resume_token)
            if args.limit and received >= args.limit:
                break
    finally:
        stream.close()
        resume.save(stream.resume_token)
    return 0
