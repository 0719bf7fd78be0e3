"""The plan a dry run prints: symbols, date range, chunks to load and the REST requests they need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from rich.console import Console

from tickstock_server.loader.backfill import BackfillRequest
from tickstock_server.loader.chunks import Chunk, estimated_requests

__all__ = ["print_plan"]

_MAX_LISTED = 50
"""Chunks listed one per line; the rest are counted."""
_MAX_SYMBOLS_SHOWN = 20


def print_plan(
    request: BackfillRequest, chunks: Sequence[Chunk], todo: Sequence[Chunk], console: Console
) -> None:
    """Print what a run of `request` would do: `chunks` planned, `todo` of them still to load."""
    symbols = request.symbols
    shown = ", ".join(symbols[:_MAX_SYMBOLS_SHOWN])
    more = f" and {len(symbols) - _MAX_SYMBOLS_SHOWN} more" if len(symbols) > _MAX_SYMBOLS_SHOWN else ""
    console.print("dry run: nothing is fetched or written")
    console.print(f"symbols: {len(symbols)} ({shown}{more})")
    if request.kinds:
        console.print(f"days: {request.first} to {request.last}")
    planned = Counter(chunk.kind for chunk in chunks)
    remaining = Counter(chunk.kind for chunk in todo)
    for kind in request.kinds:
        console.print(
            f"{kind} chunks: {planned[kind]} planned, {planned[kind] - remaining[kind]} completed by an"
            f" earlier run, {remaining[kind]} to load"
        )
    for chunk in todo[:_MAX_LISTED]:
        requests = estimated_requests(chunk)
        console.print(f"  {chunk}  ~{requests} request{'s' if requests > 1 else ''}")
    if len(todo) > _MAX_LISTED:
        console.print(f"  ... and {len(todo) - _MAX_LISTED} more chunks")
    bar_requests = sum(estimated_requests(chunk) for chunk in todo)
    reference_requests = len(symbols) if request.reference else 0
    if request.reference:
        console.print(f"reference data: {reference_requests} requests (one per symbol)")
    console.print(f"estimated requests: {bar_requests + reference_requests} at most, without retries")
