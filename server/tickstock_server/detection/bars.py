"""One-minute bar aggregation on event time: ticks in, cumulative OHLCV bars out."""

from __future__ import annotations

from tickstock_server.domain.bar import Bar
from tickstock_server.domain.tick import Tick
from tickstock_server.support.time_units import NS_PER_MINUTE

__all__ = ["BarAggregator"]


class _OpenBar:
    """The mutable bar of one symbol's newest minute."""

    __slots__ = ("close", "dirty", "high", "low", "open", "start_ns", "ticks", "volume")

    def __init__(self, start_ns: int, price: float, volume: int) -> None:
        self.start_ns = start_ns
        self.open = self.high = self.low = self.close = price
        self.volume = volume
        self.ticks = 1
        self.dirty = True
        """Changed since it was last emitted."""


class BarAggregator:
    """Builds one-minute bars per symbol (first open, max high, min low, last close, summed volume).

    A symbol's bar for minute m is emitted when the symbol's first tick of a later minute arrives, or,
    for symbols that fall silent, when the newest event time seen across all symbols (the watermark)
    passes the end of minute m by `grace_ns`. Ticks of different symbols interleave slightly out of
    order in real feeds; a tick that arrives for an already emitted minute (the symbol's newest bar,
    since each symbol's ticks come in order) updates it and the bar is emitted again as a revision with
    the cumulative values, so a store that keeps the latest revision per (symbol, minute) is exact.
    Pure: time comes only from the ticks.
    """

    __slots__ = ("_bars", "_grace_ns", "_next_sweep_ns", "_ready")

    def __init__(self, *, grace_ns: int = 2_000_000_000) -> None:
        """Create an aggregator with no bars.

        Args:
            grace_ns: How long after a minute ends (by the watermark) silent symbols' bars are emitted.
        """
        if grace_ns < 0:
            raise ValueError("grace_ns must not be negative")
        self._grace_ns = grace_ns
        self._bars: dict[str, _OpenBar] = {}
        self._ready: list[Bar] = []
        self._next_sweep_ns = 0

    def update(self, tick: Tick) -> None:
        """Add one valid tick (positive price, volume >= 0; in event-time order per symbol)."""
        ts_ns = tick.ts_ns
        start_ns = ts_ns - ts_ns % NS_PER_MINUTE
        bar = self._bars.get(tick.symbol)
        price = tick.price
        if bar is None or start_ns > bar.start_ns:
            if bar is not None and bar.dirty:
                self._ready.append(_freeze(tick.symbol, bar))
            self._bars[tick.symbol] = _OpenBar(start_ns, price, tick.volume)
        elif start_ns == bar.start_ns:
            if price > bar.high:
                bar.high = price
            elif price < bar.low:
                bar.low = price
            bar.close = price
            bar.volume += tick.volume
            bar.ticks += 1
            bar.dirty = True
        # A tick older than the symbol's newest minute breaks the per-symbol order feeds guarantee:
        # it cannot be merged without rewriting a bar already superseded, so it is ignored.
        if ts_ns >= self._next_sweep_ns:
            self._sweep(ts_ns)

    def _sweep(self, watermark_ns: int) -> None:
        # Bars whose minute ended at least grace_ns before the watermark are complete.
        limit_start_ns = watermark_ns - self._grace_ns - NS_PER_MINUTE
        ready = self._ready
        for symbol, bar in self._bars.items():
            if bar.dirty and bar.start_ns <= limit_start_ns:
                ready.append(_freeze(symbol, bar))
        # The oldest bar not yet complete starts at the first minute after limit_start_ns; it completes
        # once the watermark passes its end by grace_ns.
        next_start_ns = (limit_start_ns // NS_PER_MINUTE + 1) * NS_PER_MINUTE
        self._next_sweep_ns = next_start_ns + NS_PER_MINUTE + self._grace_ns

    def take(self) -> list[Bar]:
        """Return the bars completed (or revised) since the last call, in completion order."""
        ready = self._ready
        self._ready = []
        return ready

    def flush(self) -> list[Bar]:
        """Complete every bar with unemitted changes (at shutdown) and return all pending bars."""
        for symbol, bar in self._bars.items():
            if bar.dirty:
                self._ready.append(_freeze(symbol, bar))
        return self.take()

    def open_bar(self, symbol: str) -> Bar | None:
        """Snapshot of one symbol's newest bar, emitted or not; None when the symbol has none."""
        bar = self._bars.get(symbol)
        return None if bar is None else _freeze(symbol, bar, mark=False)

    def open_bars(self) -> list[Bar]:
        """Snapshot of every symbol's newest bar, emitted or not (for readers merging unflushed bars)."""
        return [_freeze(symbol, bar, mark=False) for symbol, bar in self._bars.items()]

    @property
    def symbol_count(self) -> int:
        """Symbols with a bar held."""
        return len(self._bars)


def _freeze(symbol: str, bar: _OpenBar, *, mark: bool = True) -> Bar:
    if mark:
        bar.dirty = False
    return Bar(
        symbol=symbol,
        start_ns=bar.start_ns,
        open=bar.open,
        high=bar.high,
        low=bar.low,
        close=bar.close,
        volume=bar.volume,
        ticks=bar.ticks,
    )
