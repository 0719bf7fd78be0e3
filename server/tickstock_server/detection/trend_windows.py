"""Incremental window arithmetic of the trend detector: window scores in O(1) amortised per point."""

from __future__ import annotations

import functools
import math

from tickstock_server.detection.trend_config import TrendConfig

__all__ = ["TrendWindows"]

Point = tuple[int, float, float, float, float, float, int, int, int]
"""A committed one-second point and the series-wide running sums as of it.

(second, price, price total before, squared price total before, change sum, flow sum, volume total
before, volume-point count before, ratio count before). Price totals are relative to the series shift;
the change and flow sums are the decayed sums just after this point; the rest count what came before it.
"""

_CountRow = tuple[float, float, float, float]

RatioPoint = tuple[float, float, float]
"""A committed point with a VWAP: (ratio, ratio sum before it, ratio change sum after it)."""

# Expired points at the head of the point lists are deleted in batches of at least this many.
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

    Every window is a suffix of one time-ordered point sequence, so a window is only an offset into one
    list, advanced as points expire; its sums are differences of series-wide running sums:

    - Plain sums (prices, squared prices, volumes, counts) are prefix totals; the window's sum is the
      total now minus the total before its oldest point. Volumes are exact integers; prices are taken
      relative to a shift that is re-anchored to the newest price every few long windows (the held
      points are rebuilt then), so the totals never grow large enough to lose precision.
    - The decayed weighted mean of x_0..x_{m-1} (oldest first) is sum(d^(m-1-i) x_i) / sum(d^(m-1-i)).
      Its numerator over a suffix comes from one series-wide decayed sum G (G = d G + x per value):
      suffix sum = G_now - d^m G_before_suffix. G stays bounded because old values and their rounding
      errors decay by d per value.

    The current, uncommitted point is included arithmetically at scoring, without storing it. The
    price change and flow (sign(change) x volume) of a point are against the previous committed
    point, which is the previous point of every window still holding one.
    """

    __slots__ = (
        "_by_count",
        "_by_ratio_count",
        "_change_sum",
        "_decay",
        "_expired",
        "_flow_sum",
        "_last_price",
        "_last_ratio",
        "_min_volume_points",
        "_offsets",
        "_points",
        "_price_sq_total",
        "_price_total",
        "_ratio_base",
        "_ratio_change_sum",
        "_ratio_count",
        "_ratio_sum",
        "_ratios",
        "_reanchor_every",
        "_shift",
        "_shortest_span",
        "_spans",
        "_volume_points",
        "_volume_total",
        "_weights",
    )

    def __init__(self, config: TrendConfig) -> None:
        """Create empty windows for a configuration (its windows, decay and component weights)."""
        self._decay = config.decay
        self._by_count, self._by_ratio_count = _score_tables(config)
        self._weights = (config.price_weight, config.volume_weight, config.vwap_weight)
        self._min_volume_points = config.min_volume_points
        # Short, medium, long and volatility windows, seconds; `_offsets` holds where each starts.
        self._spans = (
            config.short_window_s,
            config.medium_window_s,
            config.long_window_s,
            config.volatility_window_s,
        )
        self._shortest_span = min(self._spans)
        self._offsets = (0, 0, 0, 0)
        self._reanchor_every = _REANCHOR_WINDOWS * max(config.long_window_s, config.volatility_window_s)
        self._points: list[Point] = []
        self._ratios: list[RatioPoint] = []
        self.clear()

    def clear(self) -> None:
        """Drop every point."""
        self._points.clear()
        self._ratios.clear()
        self._offsets = (0, 0, 0, 0)
        self._shift = self._price_total = self._price_sq_total = 0.0
        self._change_sum = self._flow_sum = self._ratio_sum = self._ratio_change_sum = 0.0
        self._volume_total = self._volume_points = self._ratio_count = self._ratio_base = self._expired = 0
        self._last_price = 0.0
        self._last_ratio: float | None = None

    @property
    def held_points(self) -> int:
        """Points in memory: the longest window's plus fewer than a compaction batch of expired ones."""
        return len(self._points)

    def long_mean_volume(self, volume: int) -> float:
        """Mean point volume of the long window with a current point of `volume` as the newest."""
        points = self._points
        offset = self._offsets[2]
        before = points[offset][6] if offset < len(points) else self._volume_total
        return (self._volume_total + volume - before) / (len(points) - offset + 1)

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
        decay = self._decay
        points = self._points
        if point is not None:
            self._commit(point)
        count = len(points)
        short_offset, medium_offset, long_offset, spread_offset = self._offsets
        short_span, medium_span, long_span, spread_span = self._spans
        if count and second - points[-1][0] < self._shortest_span:
            # Every window still holds the newest point, which stops each scan.
            cutoff = second - short_span
            while points[short_offset][0] <= cutoff:
                short_offset += 1
            cutoff = second - medium_span
            while points[medium_offset][0] <= cutoff:
                medium_offset += 1
            cutoff = second - long_span
            while points[long_offset][0] <= cutoff:
                long_offset += 1
            cutoff = second - spread_span
            while points[spread_offset][0] <= cutoff:
                spread_offset += 1
        else:  # after a gap: windows may empty completely
            short_offset = self._expire(short_offset, second - short_span)
            medium_offset = self._expire(medium_offset, second - medium_span)
            long_offset = self._expire(long_offset, second - long_span)
            spread_offset = self._expire(spread_offset, second - spread_span)
        if long_offset >= _COMPACT_POINTS and spread_offset >= _COMPACT_POINTS:
            head = min(long_offset, spread_offset)
            self._compact(head)
            short_offset -= head
            medium_offset -= head
            long_offset -= head
            spread_offset -= head
            count = len(points)
        self._offsets = (short_offset, medium_offset, long_offset, spread_offset)
        if count - long_offset + 1 < 3 * min_points or second - points[long_offset][0] < min_age_s:
            return None

        # Series-wide sums with the current point pushed (never stored).
        shift = self._shift
        last_price = self._last_price
        change_sum = decay * self._change_sum + (price - last_price)
        flow_sum = decay * self._flow_sum + (
            volume if price > last_price else -volume if price < last_price else 0
        )
        shifted = price - shift
        price_total = self._price_total + shifted
        volume_total = self._volume_total + volume
        volume_points = self._volume_points + 1 if volume > 0 else self._volume_points
        ratio_count = self._ratio_count
        ratio_sum = self._ratio_sum
        ratio_change_sum = self._ratio_change_sum
        if ratio is not None:
            last_ratio = self._last_ratio
            ratio_sum = decay * ratio_sum + ratio
            ratio_change_sum = decay * ratio_change_sum + (0.0 if last_ratio is None else ratio - last_ratio)
            ratio_count += 1

        by_count = self._by_count
        by_ratio_count = self._by_ratio_count
        price_weight, flow_weight, vwap_weight = self._weights
        min_volume_points = self._min_volume_points
        ratios = self._ratios
        ratio_base = self._ratio_base
        min_committed = min_points - 1 if min_points > 1 else 1
        scores = []
        for offset in (short_offset, medium_offset, long_offset):
            committed = count - offset
            if committed < min_committed:
                scores.append(0.0)
                continue
            _, _, price_before, _, change_before, flow_before, volume_before, points_before, ratios_before = (
                points[offset]
            )
            # The window holds committed + 1 points, hence `committed` changes and flows; the tables fold
            # the normaliser of the decayed mean together with the component's scale.
            weight, price_factor, inverse_size, flow_factor = by_count[committed]
            value = (change_sum - weight * change_before) * price_factor
            value /= shift + (price_total - price_before) * inverse_size
            if value > 1.0:
                value = 1.0
            elif value < -1.0:
                value = -1.0
            score = price_weight * value
            if volume_points - points_before >= min_volume_points:
                value = (flow_sum - weight * flow_before) * flow_factor / (volume_total - volume_before)
                if value > 1.0:
                    value = 1.0
                elif value < -1.0:
                    value = -1.0
                score += flow_weight * value
            held = ratio_count - ratios_before
            if held >= 2:
                _, first_sum_before, first_change_sum = ratios[ratios_before - ratio_base]
                weight, ratio_factor, change_weight, change_factor = by_ratio_count[held]
                value = (ratio_sum - weight * first_sum_before) * ratio_factor + (
                    ratio_change_sum - change_weight * first_change_sum
                ) * change_factor
                if value > 1.0:
                    value = 1.0
                elif value < -1.0:
                    value = -1.0
                score += vwap_weight * value
            scores.append(score)

        size = count - spread_offset + 1
        coefficient = None
        if size >= 2:
            _, _, price_before, price_sq_before, *_ = points[spread_offset]
            mean_shifted = (price_total - price_before) / size
            variance = (self._price_sq_total + shifted * shifted - price_sq_before) / size - mean_shifted**2
            coefficient = math.sqrt(variance) / (shift + mean_shifted) if variance > 0.0 else 0.0
        return (scores[0], scores[1], scores[2], coefficient)

    def _commit(self, point: tuple[int, float, int, float | None]) -> None:
        second, price, volume, vwap = point
        decay = self._decay
        points = self._points
        if not points:  # nothing held: restart the price totals at this price
            self._shift = price
            self._price_total = self._price_sq_total = 0.0
        change = price - self._last_price if self._last_price else 0.0
        change_sum = self._change_sum = decay * self._change_sum + change
        flow_sum = self._flow_sum = decay * self._flow_sum + (
            volume if change > 0 else -volume if change < 0 else 0
        )
        price_total = self._price_total
        price_sq_total = self._price_sq_total
        volume_total = self._volume_total
        volume_points = self._volume_points
        ratio_count = self._ratio_count
        points.append(
            (
                second,
                price,
                price_total,
                price_sq_total,
                change_sum,
                flow_sum,
                volume_total,
                volume_points,
                ratio_count,
            )
        )
        shifted = price - self._shift
        self._price_total = price_total + shifted
        self._price_sq_total = price_sq_total + shifted * shifted
        self._volume_total = volume_total + volume
        if volume > 0:
            self._volume_points = volume_points + 1
        self._last_price = price
        if vwap is not None:
            ratio = (price - vwap) / vwap
            ratio_sum = self._ratio_sum
            self._ratio_sum = decay * ratio_sum + ratio
            last_ratio = self._last_ratio
            ratio_change_sum = self._ratio_change_sum = decay * self._ratio_change_sum + (
                0.0 if last_ratio is None else ratio - last_ratio
            )
            self._ratios.append((ratio, ratio_sum, ratio_change_sum))
            self._ratio_count = ratio_count + 1
            self._last_ratio = ratio

    def _expire(self, offset: int, cutoff: int) -> int:
        points = self._points
        count = len(points)
        while offset < count and points[offset][0] <= cutoff:
            offset += 1
        return offset

    def _compact(self, head: int) -> None:
        points = self._points
        # Ratio points before the first held point's are in no window either.
        ratio_head = (points[head][8] if head < len(points) else self._ratio_count) - self._ratio_base
        del points[:head]  # the caller shifts the window offsets
        if ratio_head >= _COMPACT_POINTS:
            del self._ratios[:ratio_head]
            self._ratio_base += ratio_head
        self._expired += head
        if self._expired >= self._reanchor_every:
            self._reanchor()

    def _reanchor(self) -> None:
        self._expired = 0
        shift = self._shift = self._last_price
        price_total = price_sq_total = 0.0
        rebuilt: list[Point] = []
        for point in self._points:
            # Only the price totals change: they restart from the new shift.
            rebuilt.append((point[0], point[1], price_total, price_sq_total, *point[4:]))
            shifted = point[1] - shift
            price_total += shifted
            price_sq_total += shifted * shifted
        self._points[:] = rebuilt
        self._price_total = price_total
        self._price_sq_total = price_sq_total
