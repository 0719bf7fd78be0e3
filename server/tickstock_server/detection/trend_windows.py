"""Incremental window arithmetic of the trend detector: window scores in O(1) amortised per point."""

from __future__ import annotations

import functools
import math

from tickstock_server.detection.event_fields import MAX_STORED_VOLUME
from tickstock_server.detection.packed_columns import IntColumn, PriceColumn, SecondColumn
from tickstock_server.detection.trend_config import TrendConfig
from tickstock_server.detection.trend_series import SeriesSums

__all__ = ["TrendWindows"]

_CountRow = tuple[float, float, float, float]

# Expired points at the head of the point arrays are deleted in batches of at least this many.
_COMPACT_POINTS = 32

# The price totals are re-anchored to the newest price once this many long windows' worth of points
# have expired, so they stay small and precise however long the detector runs (the rebuild of the held
# points then costs O(1) amortised per point).
_REANCHOR_WINDOWS = 8


@functools.lru_cache(maxsize=16)
def _score_tables(config: TrendConfig) -> tuple[tuple[_CountRow, ...], tuple[_CountRow, ...]]:
    """Per-count factors of the window scores, computed once per configuration and shared by all symbols."""
    decay = config.decay
    size = config.long_window_s + 1
    powers = [decay**k for k in range(size)]
    # normalisers[m] = 1 / sum(decay^k for k < m) turns a decayed sum of m values into their mean.
    normalisers = [0.0] * size
    total = 0.0
    for count in range(1, size):
        total += powers[count - 1]
        normalisers[count] = 1.0 / total
    # Per value count (the index), what scores a window with that many changes or ratios: the decay
    # power dropping the values before the window, and factors folding each component's scale into
    # the normaliser of its decayed mean.
    counts = range(size)
    by_count = tuple(
        (
            powers[count],
            normalisers[count] / config.price_move_scale,
            1.0 / (count + 1),
            normalisers[count] * (count + 1) / config.volume_flow_divisor,
        )
        for count in counts
    )
    by_ratio_count = tuple(
        (
            powers[count],
            config.vwap_position_gain * normalisers[count],
            powers[count - 1] if count else 0.0,
            config.vwap_change_gain * normalisers[count - 1] if count else 0.0,
        )
        for count in counts
    )
    return by_count, by_ratio_count


class TrendWindows:
    """The committed one-second points of one symbol and the running sums that score its windows.

    Every window is a suffix of one time-ordered point sequence, so a window is a head position in that
    sequence, advanced as points expire; its sums are differences of series-wide running sums:

    - Plain sums (prices, squared prices, volumes, counts) are prefix totals; the window's sum is the
      total now minus the total before its oldest point. Volumes are exact integers; prices are taken
      relative to a shift that is re-anchored to the newest price every few long windows (the totals at
      the heads are rebuilt then), so the totals never grow large enough to lose precision.
    - The decayed weighted mean of x_0..x_{m-1} (oldest first) is sum(d^(m-1-i) x_i) / sum(d^(m-1-i)).
      Its numerator over a suffix comes from one series-wide decayed sum G (G = d G + x per value):
      suffix sum = G_now - d^m G_before_suffix. G stays bounded because old values and their rounding
      errors decay by d per value.

    Packed state: a point is stored as its inputs only, in flat columns (second, price, volume, and the
    VWAP of the points that have one): 13 bytes while each value fits 2 or 4 bytes exactly (see
    `packed_columns`). A VWAP ratio is recomputed from the stored price and VWAP, which gives the
    identical double. The running sums exist once for the series
    and once per window head (`SeriesSums`); a head replays the points it passes with the series' own
    arithmetic, so its sums are bit for bit those the series had at that point. Arrays hold no Python
    objects, so the cyclic garbage collector never scans the points.

    The current, uncommitted point is included arithmetically at scoring, without storing it. The
    price change and flow (sign(change) x volume) of a point are against the previous committed
    point, which is the previous point of every window still holding one.
    """

    __slots__ = (
        "_by_count",
        "_by_ratio_count",
        "_decay",
        "_expired",
        "_has_ratio",
        "_heads",
        "_min_volume_points",
        "_prices",
        "_ratio_base",
        "_reanchor_every",
        "_seconds",
        "_series",
        "_shift",
        "_shortest_span",
        "_spans",
        "_volumes",
        "_vwaps",
        "_weights",
    )

    def __init__(self, config: TrendConfig) -> None:
        """Create empty windows for a configuration (its windows, decay and component weights)."""
        self._decay = config.decay
        self._by_count, self._by_ratio_count = _score_tables(config)
        self._weights = (config.price_weight, config.volume_weight, config.vwap_weight)
        self._min_volume_points = config.min_volume_points
        # Short, medium, long and volatility windows, seconds; `_heads` holds where each starts.
        self._spans = (
            config.short_window_s,
            config.medium_window_s,
            config.long_window_s,
            config.volatility_window_s,
        )
        self._shortest_span = min(self._spans)
        self._reanchor_every = _REANCHOR_WINDOWS * max(config.long_window_s, config.volatility_window_s)
        self._seconds = SecondColumn()
        self._prices = PriceColumn()
        self._volumes = IntColumn()
        self._has_ratio = bytearray()
        self._vwaps = PriceColumn()  # of the points with a VWAP only
        self._series = SeriesSums()
        self._heads = (SeriesSums(), SeriesSums(), SeriesSums(), SeriesSums())
        self.clear()

    def clear(self) -> None:
        """Drop every point."""
        self._seconds.clear()
        self._prices.clear()
        self._volumes.clear()
        del self._has_ratio[:]
        self._vwaps.clear()
        self._series = SeriesSums()
        self._heads = (SeriesSums(), SeriesSums(), SeriesSums(), SeriesSums())
        self._shift = 0.0
        self._ratio_base = self._expired = 0

    @property
    def held_points(self) -> int:
        """Points in memory: the longest window's plus fewer than a compaction batch of expired ones."""
        return len(self._has_ratio)

    def long_mean_volume(self, volume: int) -> float:
        """Mean point volume of the long window with a current point of `volume` as the newest."""
        head = self._heads[2]
        return (self._series.volume_total + volume - head.volume_total) / (
            len(self._has_ratio) - head.offset + 1
        )

    def advance(
        self,
        point: tuple[int, float, int, float | None] | None,
        second: int,
        price: float,
        volume: int,
        ratio: float | None,
        min_points: int,
        min_age_s: int,
    ) -> tuple[float, float, float, float | None] | None:
        """Commit the finished point, expire old points, then score the windows at a new second.

        Commit, expiry and scoring share one call because they always happen together, once per
        second of event time: this is the detector's hot path.

        Args:
            point: The finished point (second, last price, summed volume, last usable VWAP or None), if any.
            second: The new second; a window of W s then holds the points of seconds > second - W.
            price: Price of the current point (> 0), the newest in every window.
            volume: Volume of the current point (>= 0).
            ratio: (price - vwap) / vwap of the current point, or None without a usable VWAP.
            min_points: Points (the current one included) below which a window scores 0.
            min_age_s: Warm-up: the long window must hold 3 x `min_points` points and its oldest must be
                at least this old, seconds.

        Returns:
            None while warming up; else the short, medium and long window scores and the coefficient
            of variation of the volatility window's prices (None with fewer than two).
        """
        if point is not None:
            self._commit(point)
        seconds = self._seconds.values
        count = len(seconds)
        short, medium, long, spread = heads = self._heads
        short_span, medium_span, long_span, spread_span = self._spans
        self._pass(short, second - short_span)
        self._pass(medium, second - medium_span)
        self._pass(long, second - long_span)
        self._pass(spread, second - spread_span)
        if long.offset >= _COMPACT_POINTS and spread.offset >= _COMPACT_POINTS:
            self._compact(min(long.offset, spread.offset))
            count = len(seconds)
        long_offset = long.offset
        if (
            count - long_offset + 1 < 3 * min_points
            or second - self._seconds.base - seconds[long_offset] < min_age_s
        ):
            return None

        # Series-wide sums with the current point pushed (never stored).
        decay = self._decay
        series = self._series
        shift = self._shift
        last_price = series.last_price
        change_sum = decay * series.change_sum + (price - last_price)
        flow_sum = decay * series.flow_sum + (
            volume if price > last_price else -volume if price < last_price else 0
        )
        shifted = price - shift
        price_total = series.price_total + shifted
        volume_total = series.volume_total + volume
        volume_points = series.volume_points + 1 if volume > 0 else series.volume_points
        ratio_count = series.ratio_count
        ratio_sum = series.ratio_sum
        ratio_change_sum = series.ratio_change_sum
        if ratio is not None:
            ratio_sum = decay * ratio_sum + ratio
            ratio_change_sum = series.ratio_change_after(ratio, decay)
            ratio_count += 1

        by_count = self._by_count
        by_ratio_count = self._by_ratio_count
        price_weight, flow_weight, vwap_weight = self._weights
        min_volume_points = self._min_volume_points
        prices = self._prices.values
        price_scale = self._prices.scale
        has_ratio = self._has_ratio
        vwaps = self._vwaps.values
        vwap_scale = self._vwaps.scale
        ratio_base = self._ratio_base
        min_committed = min_points - 1 if min_points > 1 else 1
        scores = []
        for head in heads[:3]:
            committed = count - head.offset
            if committed < min_committed:
                scores.append(0.0)
                continue
            # The head's sums are those before the window's oldest point; the change and flow sums are
            # taken just after it, as its own change is against a point outside the window.
            first_price = prices[head.offset] / price_scale
            # The window holds committed + 1 points, hence `committed` changes and flows; the tables fold
            # the normaliser of the decayed mean together with the component's scale.
            weight, price_factor, inverse_size, flow_factor = by_count[committed]
            value = (change_sum - weight * head.change_after(first_price, decay)) * price_factor
            value /= shift + (price_total - head.price_total) * inverse_size
            if value > 1.0:
                value = 1.0
            elif value < -1.0:
                value = -1.0
            score = price_weight * value
            if volume_points - head.volume_points >= min_volume_points:
                flow_before = head.flow_after(first_price, self._volumes.values[head.offset], decay)
                value = (flow_sum - weight * flow_before) * flow_factor / (volume_total - head.volume_total)
                if value > 1.0:
                    value = 1.0
                elif value < -1.0:
                    value = -1.0
                score += flow_weight * value
            held = ratio_count - head.ratio_count
            if held >= 2:
                # The window's first ratio is the next one the head takes.
                ratio_offset = head.offset
                if not has_ratio[ratio_offset]:
                    ratio_offset = has_ratio.find(1, ratio_offset)
                vwap = vwaps[head.ratio_count - ratio_base] / vwap_scale
                first_ratio = (prices[ratio_offset] / price_scale - vwap) / vwap
                first_change_sum = head.ratio_change_after(first_ratio, decay)
                weight, ratio_factor, change_weight, change_factor = by_ratio_count[held]
                value = (ratio_sum - weight * head.ratio_sum) * ratio_factor + (
                    ratio_change_sum - change_weight * first_change_sum
                ) * change_factor
                if value > 1.0:
                    value = 1.0
                elif value < -1.0:
                    value = -1.0
                score += vwap_weight * value
            scores.append(score)

        size = count - spread.offset + 1
        coefficient = None
        if size >= 2:
            mean_shifted = (price_total - spread.price_total) / size
            variance = (
                series.price_sq_total + shifted * shifted - spread.price_sq_total
            ) / size - mean_shifted**2
            coefficient = math.sqrt(variance) / (shift + mean_shifted) if variance > 0.0 else 0.0
        return (scores[0], scores[1], scores[2], coefficient)

    def _commit(self, point: tuple[int, float, int, float | None]) -> None:
        second, price, volume, vwap = point
        if not self._has_ratio:  # nothing held: restart the price totals at this price
            self._shift = price
            for sums in (self._series, *self._heads):  # every head is at the series' end
                sums.price_total = sums.price_sq_total = 0.0
        if volume > MAX_STORED_VOLUME:
            volume = MAX_STORED_VOLUME
        ratio = None if vwap is None else (price - vwap) / vwap
        self._seconds.append(second)
        self._prices.append(price)
        self._volumes.append(volume)
        if vwap is None:
            self._has_ratio.append(0)
        else:
            self._has_ratio.append(1)
            self._vwaps.append(vwap)
        self._series.take(price, volume, ratio, self._shift, self._decay)

    def _pass(self, head: SeriesSums, cutoff: int) -> None:
        """Move `head` past the points of seconds <= `cutoff`."""
        seconds = self._seconds.values
        cutoff -= self._seconds.base
        count = len(seconds)
        if head.offset >= count or seconds[head.offset] > cutoff:
            return
        prices = self._prices.values
        price_scale = self._prices.scale
        volumes = self._volumes.values
        has_ratio = self._has_ratio
        vwaps = self._vwaps.values
        vwap_scale = self._vwaps.scale
        shift = self._shift
        decay = self._decay
        offset = head.offset
        while offset < count and seconds[offset] <= cutoff:
            price = prices[offset] / price_scale
            ratio = None
            if has_ratio[offset]:
                vwap = vwaps[head.ratio_count - self._ratio_base] / vwap_scale
                ratio = (price - vwap) / vwap
            head.take(price, volumes[offset], ratio, shift, decay)
            offset += 1

    def _compact(self, head: int) -> None:
        # Ratios before the first held point's are taken by no head either.
        heads = self._heads
        ratio_head = min(heads[2].ratio_count, heads[3].ratio_count) - self._ratio_base
        self._seconds.delete_head(head)
        self._prices.delete_head(head)
        self._volumes.delete_head(head)
        del self._has_ratio[:head]
        for sums in (self._series, *heads):
            sums.offset -= head
        if ratio_head >= _COMPACT_POINTS:
            self._vwaps.delete_head(ratio_head)
            self._ratio_base += ratio_head
        self._expired += head
        if self._expired >= self._reanchor_every:
            self._reanchor()

    def _reanchor(self) -> None:
        """Restart the price totals from the newest price, rebuilt at every head and the series' end."""
        self._expired = 0
        shift = self._shift = self._series.last_price
        prices = self._prices.values
        price_scale = self._prices.scale
        by_offset = sorted((*self._heads, self._series), key=_offset)
        price_total = price_sq_total = 0.0
        index = 0
        for sums in by_offset:
            while index < sums.offset:
                shifted = prices[index] / price_scale - shift
                price_total += shifted
                price_sq_total += shifted * shifted
                index += 1
            sums.price_total = price_total
            sums.price_sq_total = price_sq_total


def _offset(sums: SeriesSums) -> int:
    return sums.offset
