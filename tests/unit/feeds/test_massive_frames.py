import json
import logging
from pathlib import Path
from typing import Any

import pytest
from factories import REGULAR_TS_NS

from tickstock_server.domain.tick import Tick
from tickstock_server.feeds.massive_frames import MassiveFrameParser, RejectReason

SAMPLE = Path(__file__).parents[2] / "data" / "massive_sample.jsonl"
TS_MS = REGULAR_TS_NS // 1_000_000  # 2026-01-06 10:00:00 ET in epoch milliseconds
RECEIVED_NS = REGULAR_TS_NS + 250_000_000


class FakeMonotonic:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def aggregate(**overrides: Any) -> dict[str, Any]:
    """A realistic per-second aggregate of AAPL ending at TS_MS."""
    event: dict[str, Any] = {
        "ev": "A", "sym": "AAPL", "v": 1200, "av": 9_813_799, "op": 241.9, "vw": 242.8683,
        "o": 243.1, "c": 242.66, "h": 243.1, "l": 242.62, "a": 242.5001, "z": 359,
        "s": TS_MS - 1000, "e": TS_MS,
    }  # fmt: skip
    event.update(overrides)
    return event


def trade(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "ev": "T", "sym": "MSFT", "x": 4, "i": "52983525029461", "z": 3, "p": 428.55, "s": 150,
        "c": [14, 41], "t": TS_MS + 7, "q": 1230494,
    }  # fmt: skip
    event.update(overrides)
    return event


def quote(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "ev": "Q", "sym": "NVDA", "bx": 12, "bp": 188.20, "bs": 3, "ax": 11, "ap": 188.30, "as": 5,
        "c": 1, "i": [604], "t": TS_MS + 9, "q": 50385480, "z": 3,
    }  # fmt: skip
    event.update(overrides)
    return event


def frame(*events: object) -> str:
    return json.dumps(list(events), separators=(",", ":"))


def parse(*events: object, received_ns: int | None = RECEIVED_NS) -> tuple[list[Tick], dict[str, int]]:
    parser = MassiveFrameParser()
    ticks = parser.parse(frame(*events), received_ns)
    return ticks, dict(parser.rejected)


@pytest.mark.parametrize("ev", ["A", "AM"])
def test_aggregate_maps_every_field(ev: str) -> None:
    ticks, rejected = parse(aggregate(ev=ev))

    assert ticks == [
        Tick(
            symbol="AAPL",
            price=242.66,  # c
            volume=1200,  # v
            ts_ns=REGULAR_TS_NS,  # e = TS_MS, x 1_000_000
            received_ns=RECEIVED_NS,
            vwap=242.5001,  # a (the day VWAP), not vw
            open_price=241.9,  # op
            accumulated_volume=9_813_799,  # av
        )
    ]
    assert rejected == {}


def test_trade_maps_price_size_and_time() -> None:
    ticks, _ = parse(trade())

    # p, s, t = TS_MS + 7 ms; a trade carries no day statistics
    assert ticks == [
        Tick(
            symbol="MSFT", price=428.55, volume=150, ts_ns=REGULAR_TS_NS + 7_000_000, received_ns=RECEIVED_NS
        )
    ]


def test_quote_maps_to_the_midpoint_with_no_volume() -> None:
    ticks, _ = parse(quote())

    # (188.20 + 188.30) / 2 = 188.25; t = TS_MS + 9 ms
    assert ticks == [
        Tick(symbol="NVDA", price=188.25, volume=0, ts_ns=REGULAR_TS_NS + 9_000_000, received_ns=RECEIVED_NS)
    ]


def test_symbol_is_upper_cased() -> None:
    ticks, _ = parse(aggregate(sym="brk.b"))

    assert [tick.symbol for tick in ticks] == ["BRK.B"]


def test_no_received_time_stamps_each_tick_with_its_event_time() -> None:
    ticks, _ = parse(aggregate(e=TS_MS), trade(t=TS_MS + 7), received_ns=None)

    assert [tick.received_ns for tick in ticks] == [REGULAR_TS_NS, REGULAR_TS_NS + 7_000_000]


def test_absent_or_zero_day_statistics_are_unknown() -> None:
    absent = {key: value for key, value in aggregate().items() if key not in ("a", "op", "av")}

    ticks, rejected = parse(absent, aggregate(a=0, op=0, av=0))

    assert [(tick.vwap, tick.open_price, tick.accumulated_volume) for tick in ticks] == [
        (None, None, None),
        (None, None, 0),  # a zero day volume is a known value
    ]
    assert rejected == {}


def test_integral_numbers_of_the_other_json_type_are_accepted() -> None:
    ticks, rejected = parse(aggregate(c=243, v=1200.0, e=float(TS_MS)))

    assert [(tick.price, tick.volume, tick.ts_ns) for tick in ticks] == [(243.0, 1200, REGULAR_TS_NS)]
    assert rejected == {}


def test_events_keep_their_frame_order() -> None:
    ticks, _ = parse(quote(), aggregate(), trade())

    assert [tick.symbol for tick in ticks] == ["NVDA", "AAPL", "MSFT"]


@pytest.mark.parametrize(
    ("bad_frame", "reason"),
    [
        ('[{"ev":"A",', RejectReason.INVALID_JSON),
        (b'[{"ev":"A","sym":"\xff"}]', RejectReason.INVALID_JSON),  # not UTF-8
        ('{"ev":"A","sym":"AAPL"}', RejectReason.NOT_AN_ARRAY),
        ("null", RejectReason.NOT_AN_ARRAY),
        ("[" * 100_000 + "]" * 100_000, RejectReason.INVALID_JSON),  # deeper than the decoder recurses
        ('[{"a":' * 5_000 + "1" + "}]" * 5_000, RejectReason.INVALID_JSON),
    ],
)
def test_malformed_frame_is_skipped_whole_and_counted(bad_frame: str | bytes, reason: RejectReason) -> None:
    parser = MassiveFrameParser()

    ticks = parser.parse(bad_frame, RECEIVED_NS)
    after = parser.parse(frame(aggregate()), RECEIVED_NS)

    assert ticks == []
    assert dict(parser.rejected) == {reason: 1}
    assert len(after) == 1  # the parser carries on with the next frame


@pytest.mark.parametrize(
    ("bad_event", "reason"),
    [
        (42, RejectReason.NOT_AN_OBJECT),
        ([aggregate()], RejectReason.NOT_AN_OBJECT),
        (aggregate(ev="LULD"), RejectReason.UNKNOWN_EVENT),
        (aggregate(ev="XA"), RejectReason.UNKNOWN_EVENT),  # crypto aggregate: not mapped
        (aggregate(ev=7), RejectReason.UNKNOWN_EVENT),
        ({"sym": "AAPL", "c": 1.0, "v": 1, "e": TS_MS}, RejectReason.MISSING_FIELD),  # no ev
        ({k: v for k, v in aggregate().items() if k != "c"}, RejectReason.MISSING_FIELD),
        ({k: v for k, v in aggregate().items() if k != "sym"}, RejectReason.MISSING_FIELD),
        ({k: v for k, v in aggregate().items() if k != "e"}, RejectReason.MISSING_FIELD),
        ({k: v for k, v in trade().items() if k != "s"}, RejectReason.MISSING_FIELD),
        ({k: v for k, v in quote().items() if k != "ap"}, RejectReason.MISSING_FIELD),
        (aggregate(c=0), RejectReason.BAD_VALUE),
        (aggregate(c=-1.5), RejectReason.BAD_VALUE),
        (aggregate(c=float("nan")), RejectReason.BAD_VALUE),  # json.dumps writes NaN; json.loads reads it
        (aggregate(c=float("inf")), RejectReason.BAD_VALUE),
        (aggregate(c="242.66"), RejectReason.BAD_VALUE),
        (aggregate(c=True), RejectReason.BAD_VALUE),
        (aggregate(c=10**400), RejectReason.BAD_VALUE),  # an integer literal too large for a float
        (quote(bp=2**1024), RejectReason.BAD_VALUE),
        (aggregate(c=None), RejectReason.BAD_VALUE),
        (aggregate(v=-1), RejectReason.BAD_VALUE),
        (aggregate(v=10.5), RejectReason.BAD_VALUE),
        (aggregate(v=2**63), RejectReason.BAD_VALUE),  # past int64: no bigint column or proto takes it
        (aggregate(v=1e300), RejectReason.BAD_VALUE),
        (aggregate(av=2**64), RejectReason.BAD_VALUE),
        (aggregate(av=-5), RejectReason.BAD_VALUE),
        (aggregate(a=-242.5), RejectReason.BAD_VALUE),
        (aggregate(op="241.9"), RejectReason.BAD_VALUE),
        (aggregate(e=TS_MS + 0.5), RejectReason.BAD_VALUE),
        (aggregate(e=str(TS_MS)), RejectReason.BAD_VALUE),
        (aggregate(e=0), RejectReason.BAD_VALUE),
        (aggregate(sym=""), RejectReason.BAD_VALUE),
        (aggregate(sym=123), RejectReason.BAD_VALUE),
        (aggregate(sym="\ud800"), RejectReason.BAD_VALUE),  # a lone surrogate: no encoder takes it
        (aggregate(sym="AAPL\0"), RejectReason.BAD_VALUE),
        (aggregate(sym="A" * 16), RejectReason.BAD_VALUE),
        (aggregate(sym="X:BTCUSD"), RejectReason.BAD_VALUE),
        (trade(p=0), RejectReason.BAD_VALUE),
        (trade(s=-100), RejectReason.BAD_VALUE),
        (quote(bp=0), RejectReason.BAD_VALUE),
        (quote(ap=-188.3), RejectReason.BAD_VALUE),
    ],
)
def test_bad_event_is_skipped_and_counted_while_the_rest_of_the_frame_comes_through(
    bad_event: object, reason: RejectReason
) -> None:
    ticks, rejected = parse(trade(), bad_event, aggregate())

    assert [tick.symbol for tick in ticks] == ["MSFT", "AAPL"]
    assert rejected == {reason: 1}


def test_rejections_accumulate_by_reason() -> None:
    parser = MassiveFrameParser()

    parser.parse("not json", RECEIVED_NS)
    parser.parse(frame(aggregate(c=0), aggregate(v=-1), aggregate(ev="LV")), RECEIVED_NS)

    assert dict(parser.rejected) == {"invalid_json": 1, "bad_value": 2, "unknown_event": 1}
    assert (parser.frames_parsed, parser.ticks_parsed) == (2, 0)


def test_status_events_are_counted_not_rejected() -> None:
    parser = MassiveFrameParser()
    status = {"ev": "status", "status": "success", "message": "subscribed to: A.*"}

    ticks = parser.parse(frame(status, aggregate(), {"ev": "status", "status": "slow_consumer"}), RECEIVED_NS)

    assert len(ticks) == 1
    assert dict(parser.statuses) == {"success": 1, "slow_consumer": 1}
    assert dict(parser.rejected) == {}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_non_ok_status_is_warned_once_per_value_per_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeMonotonic()
    parser = MassiveFrameParser(monotonic_s=clock)
    slow = frame({"ev": "status", "status": "slow_consumer", "message": "falling behind"})
    caplog.set_level(logging.DEBUG, logger="tickstock_server.feeds.massive_frames")

    parser.parse(frame({"ev": "status", "status": "success", "message": "subscribed to: A.*"}), 0)
    parser.parse(slow, 0)
    parser.parse(slow, 0)
    parser.parse(frame({"ev": "status", "status": "error", "message": "bad channel"}), 0)
    clock.now_s += 59.9
    parser.parse(slow, 0)
    clock.now_s += 0.1  # a minute after the first warning
    parser.parse(slow, 0)

    assert warnings_of(caplog) == [
        "Massive server status slow_consumer: falling behind (1 so far)",
        "Massive server status error: bad channel (1 so far)",
        "Massive server status slow_consumer: falling behind (4 so far)",
    ]


def test_rejections_are_warned_once_per_reason_per_minute(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeMonotonic()
    parser = MassiveFrameParser(monotonic_s=clock)
    caplog.set_level(logging.WARNING, logger="tickstock_server.feeds.massive_frames")

    for _ in range(1000):
        parser.parse("{", 0)
    parser.parse(frame(aggregate(c=0)), 0)
    clock.now_s += 60.0
    parser.parse("{", 0)

    assert warnings_of(caplog) == [
        "Skipped a Massive frame or event as invalid_json: 1"
        " so far (this warning repeats at most every 60 s; every one is counted in tickstock_feed_rejected)",
        "Skipped a Massive frame or event as bad_value: 1"
        " so far (this warning repeats at most every 60 s; every one is counted in tickstock_feed_rejected)",
        "Skipped a Massive frame or event as invalid_json: 1001"
        " so far (this warning repeats at most every 60 s; every one is counted in tickstock_feed_rejected)",
    ]


def test_same_frames_parse_to_the_same_ticks() -> None:
    frames = SAMPLE.read_text().splitlines()

    first = [tick for line in frames for tick in MassiveFrameParser().parse(line, None)]
    second = [tick for line in frames for tick in MassiveFrameParser().parse(line, None)]

    assert len(first) > 1000
    assert first == second
