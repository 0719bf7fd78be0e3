"""Fuzz targets of the untrusted feeds: producer messages, Massive frames and recorded-frame replays.

Each target runs inputs through the product's own entry point and checks, per input, that the product
counted what it refused: the consumer's `tickstock_producer_messages_invalid` counters and the frame
parser's `rejected` counts (exported as `tickstock_feed_rejected`). A value it accepted must also be
one the rest of the service can carry (a ticker symbol, a finite price, a time within int64 ns).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuzz_inputs import json_generator, mutate_bytes, mutate_json
from fuzz_target import Target, TargetBroken

from tickstock_server.adapters.memory.producer import MemoryProducerLink
from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.domain.symbols import is_symbol
from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_frames import MassiveFrameParser
from tickstock_server.feeds.replay import ReplayTickSource
from tickstock_server.producer.consumer import PatternConsumer
from tickstock_server.producer.events import BacktestProgress, ProducerHealth
from tickstock_server.producer.messages import REJECT_REASONS

_RECEIVED_NS = 1_767_700_002_000_000_000
_DETECTED_S = 1_767_700_000.25
_FLOW_ID = "0b6f3a52-8c1e-4c52-9d59-4f1c2e7d9a10"
_MAX_INT64 = 2**63 - 1

_PATTERN = {
    "symbol": "AAPL", "pattern": "Weekly_Breakout", "confidence": 0.85, "flow_id": _FLOW_ID,
    "tier": "daily", "price_change": 2.3, "current_price": 150.25, "volume": 1_250_000,
    "timestamp": _DETECTED_S, "expires_at": _DETECTED_S + 3000,
    "indicators": {"relative_strength": 1.4, "relative_volume": 2.1, "rsi": 65.5, "sma_20": 148.5},
}  # fmt: skip
_PROGRESS = {"job_id": "backtest_1767700000_1a2b3c4d", "progress": 0.45, "current_symbol": "msft",
             "estimated_completion": 1_767_700_120.0}  # fmt: skip
_RESULTS = {
    "total_return": 0.124, "win_rate": 0.58, "total_trades": 42, "sharpe_ratio": 1.35,
    "max_drawdown": -0.08, "equity_curve": [100_000, 101_200], "by_pattern": {"Doji": 12},
}  # fmt: skip

PRODUCER_CORPUS: dict[str, list[Any]] = {
    "tickstock.events.patterns": [
        {"event_type": "pattern_detected", "source": "TickStockPL", "timestamp": _DETECTED_S + 1,
         "data": _PATTERN},
        {"event_type": "pattern_updated", "data": {"flow_id": _FLOW_ID, "data": _PATTERN}},
        _PATTERN,
        {"event_type": "pattern_expired", "data": {"symbol": "AAPL"}},
    ],
    "tickstock.events.backtesting.progress": [_PROGRESS, {"data": _PROGRESS}],
    "tickstock.events.backtesting.results": [
        {"job_id": "backtest_1767700000_1a2b3c4d", "status": "completed", "results": _RESULTS},
        {"job_id": "backtest_1767700000_1a2b3c4d", "status": "failed", "error": "no data"},
    ],
    "tickstock.health.status": [
        {"event_type": "system_health", "source": "PL", "timestamp": _DETECTED_S, "data": {"status": "ok"}},
    ],
}  # fmt: skip
"""Valid messages of each producer channel, in the shapes the contract accepts."""

_EPOCH_MS = 1_767_700_000_000
FRAME_CORPUS: list[Any] = [
    [{"ev": "A", "sym": "AAPL", "v": 200, "av": 8_000_000, "op": 150.1, "vw": 150.2, "o": 150.2,
      "c": 150.3, "h": 150.4, "l": 150.0, "a": 150.15, "z": 20, "s": _EPOCH_MS, "e": _EPOCH_MS + 1000}],
    [{"ev": "AM", "sym": "MSFT", "v": 12000, "c": 410.5, "s": _EPOCH_MS, "e": _EPOCH_MS + 60_000}],
    [{"ev": "T", "sym": "NVDA", "p": 120.5, "s": 100, "t": _EPOCH_MS, "x": 4, "i": "1"},
     {"ev": "Q", "sym": "NVDA", "bp": 120.4, "ap": 120.6, "bs": 1, "as": 2, "t": _EPOCH_MS}],
    [{"ev": "status", "status": "auth_success", "message": "authenticated"}],
    [{"ev": "status", "status": "max_connections", "message": "too many"}, {"ev": "T", "sym": "BRK.B",
      "p": 1.0, "s": 0.0, "t": float(_EPOCH_MS)}],
]  # fmt: skip
"""Valid Massive frames: aggregates, trades, quotes and status messages."""


def _check_tick(tick: Tick) -> None:
    # What the detection engine, the event log and protobuf will need of every accepted tick.
    if not is_symbol(tick.symbol):
        raise TargetBroken(f"accepted a tick with symbol {tick.symbol[:40]!r}")
    if not (0.0 < tick.price < math.inf and 0 <= tick.volume <= _MAX_INT64 and tick.ts_ns > 0):
        raise TargetBroken(f"accepted a tick out of range: {tick!r:.200}")


class _Handler:
    """Takes what the consumer delivers; never raises, so a handler_error would be the product's bug."""

    def on_pattern(self, pattern: Pattern) -> None:
        if not is_symbol(pattern.symbol) or not 0 <= pattern.detected_ns <= pattern.expires_ns <= _MAX_INT64:
            raise TargetBroken(f"accepted a pattern out of range: {pattern!r:.200}")

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        pass

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        pass

    def on_producer_health(self, health: ProducerHealth) -> None:
        pass


def producer_target(channel: str) -> Callable[[], Target]:
    """Messages of one producer channel through `PatternConsumer.handle_message`."""

    def build() -> Target:
        consumer = PatternConsumer(MemoryProducerLink, _Handler(), clock_ns=lambda: _RECEIVED_NS)

        def run(raw: bytes) -> int:
            before = (consumer.processed_total, consumer.ignored_total, dict(consumer.invalid_by_reason))
            consumer.handle_message(channel, raw)
            after = (consumer.processed_total, consumer.ignored_total, consumer.invalid_by_reason)
            changed = [reason for reason, count in after[2].items() if count != before[2].get(reason, 0)]
            if changed == ["handler_error"]:
                raise TargetBroken("the consumer delivered a value its handler could not take")
            if changed:
                (reason,) = changed
                if reason not in REJECT_REASONS:
                    raise TargetBroken(f"rejected with an undocumented reason {reason!r}")
                return 1
            if after[0] + after[1] != before[0] + before[1] + 1:
                raise TargetBroken("a message was neither delivered, ignored nor counted as invalid")
            return 0

        return Target(
            generate=json_generator(PRODUCER_CORPUS[channel]),
            run=run,
            counted=lambda: consumer.invalid_total,
        )

    return build


def _frame_elements(frame: bytes) -> int:
    """How many counters a frame must move: its elements when it is an array, else 1."""
    try:
        events = json.loads(frame)
    except (ValueError, RecursionError):
        return 1
    return len(events) if type(events) is list else 1


def _massive() -> Target:
    parser = MassiveFrameParser()

    def run(frame: bytes) -> int:
        rejected_before = sum(parser.rejected.values())
        statuses_before = sum(parser.statuses.values())
        ticks = parser.parse(frame, None)
        for tick in ticks:
            _check_tick(tick)
        rejected = sum(parser.rejected.values()) - rejected_before
        statuses = sum(parser.statuses.values()) - statuses_before
        if len(ticks) + rejected + statuses != _frame_elements(frame):
            raise TargetBroken("an event of the frame was neither a tick, a status nor counted")
        return rejected

    return Target(
        generate=json_generator(FRAME_CORPUS), run=run, counted=lambda: sum(parser.rejected.values())
    )


def _replay() -> Target:
    # A recording is a file of frames, one per line: the input is the whole file.
    directory = Path(tempfile.mkdtemp(prefix="fuzz-replay-"))
    path = directory / "recording.jsonl"
    frames = [json.dumps(frame).encode() for frame in FRAME_CORPUS]
    rejected_total = [0]
    loop = asyncio.new_event_loop()

    def generate(rng: Any) -> bytes:
        lines = [
            mutate_json(rng, rng.choice(FRAME_CORPUS))
            if rng.random() < 0.5
            else mutate_bytes(rng, rng.choice(frames), frames)
            for _ in range(rng.randrange(1, 6))
        ]
        return b"\n".join(lines) + rng.choice((b"", b"\n", b"\r\n", b"\n\n  \n"))

    def run(content: bytes) -> int:
        path.write_bytes(content)
        source = ReplayTickSource(path, batch_frames=2)

        async def drain() -> list[Tick]:
            return [tick async for batch in source.ticks() for tick in batch]

        ticks = loop.run_until_complete(drain())
        for tick in ticks:
            _check_tick(tick)
        lines = sum(1 for line in io.BytesIO(content) if not line.isspace())  # lines as a file reads them
        if source.frames_read != lines:
            raise TargetBroken(f"read {source.frames_read} frames of {lines} non-blank lines")
        rejected = sum(source.rejected.values())
        rejected_total[0] += rejected
        return rejected

    def close() -> None:
        loop.close()
        shutil.rmtree(directory)

    return Target(generate=generate, run=run, counted=lambda: rejected_total[0], close=close)


FEED_TARGETS: dict[str, Callable[[], Target]] = {
    "producer_patterns": producer_target("tickstock.events.patterns"),
    "producer_progress": producer_target("tickstock.events.backtesting.progress"),
    "producer_results": producer_target("tickstock.events.backtesting.results"),
    "producer_health": producer_target("tickstock.health.status"),
    "massive_frames": _massive,
    "replay_recording": _replay,
}
"""Feed targets by name; each call builds a fresh target (its own consumer, parser or file)."""
