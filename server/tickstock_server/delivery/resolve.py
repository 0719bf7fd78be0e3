"""Resolves a `FilterSpec` (symbols, universes, the user's watchlists) into a subscription's `EventFilter`."""

from __future__ import annotations

from tickstock_server.delivery.filters import EventFilter
from tickstock_server.domain.filter_spec import FilterSpec
from tickstock_server.errors import FieldViolation, InvalidRequestError, NotFoundError
from tickstock_server.ports.universes import UniverseResolver, WatchlistReader


async def resolve_filter(
    spec: FilterSpec,
    *,
    user: str,
    universes: UniverseResolver,
    watchlists: WatchlistReader,
    max_symbols: int,
) -> EventFilter:
    """Expand symbols, universes and the user's watchlists into one symbol set and build the filter.

    Raises:
        InvalidRequestError: An unknown universe or watchlist, or too many symbols (field violations
            under "filter.").
        DependencyUnavailableError: PostgreSQL is unreachable.
    """
    violations: list[FieldViolation] = []
    symbols = set(spec.symbols)
    if spec.universes:
        try:
            symbols |= await universes.resolve(spec.universes)
        except InvalidRequestError as exc:
            violations += [FieldViolation(f"filter.{v.field}", v.description) for v in exc.violations]
        except NotFoundError as exc:
            violations.append(FieldViolation("filter.universes", str(exc)))
    for index, watchlist_id in enumerate(spec.watchlist_ids):
        try:
            symbols.update((await watchlists.get(user, watchlist_id)).symbols)
        except NotFoundError:
            violations.append(FieldViolation(f"filter.watchlist_ids[{index}]", "no such watchlist of yours"))
    if len(symbols) > max_symbols:
        violations.append(
            FieldViolation(
                "filter", f"resolves to {len(symbols)} symbols; at most {max_symbols} per subscription"
            )
        )
    if violations:
        raise InvalidRequestError(violations)
    return EventFilter(
        symbols=frozenset(symbols),
        event_types=frozenset(spec.event_types),
        directions=frozenset(spec.directions),
        min_significance=spec.min_significance,
        min_trend_strength=spec.min_trend_strength,
        min_surge_strength=spec.min_surge_strength,
        min_pattern_confidence=spec.min_pattern_confidence,
        min_price=spec.min_price,
        max_price=spec.max_price,
        min_volume=spec.min_volume,
        max_volume=spec.max_volume,
    )
