"""Settings: feed selection is validated, secrets never echoed, every variable documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tickstock_server.config import GrpcSettings, PatternSettings, describe_settings
from tickstock_server.feed_settings import FeedSettings


def test_default_feed_is_the_synthetic_market_on_a_session_clock() -> None:
    feed = FeedSettings()

    assert (feed.kind, feed.session_clock, feed.symbols) == ("synthetic", True, 4000)


def test_massive_feed_without_api_key_is_rejected() -> None:
    with pytest.raises(ValidationError, match="feed.massive.api_key is required"):
        FeedSettings(kind="massive")


def test_replay_feed_without_path_is_rejected() -> None:
    with pytest.raises(ValidationError, match="feed.replay.path is required"):
        FeedSettings(kind="replay")


def test_massive_feed_with_api_key_is_accepted_and_the_key_stays_secret() -> None:
    feed = FeedSettings.model_validate({"kind": "massive", "massive": {"api_key": "sk-live-123"}})

    assert feed.massive.api_key is not None
    assert feed.massive.api_key.get_secret_value() == "sk-live-123"
    assert "sk-live-123" not in repr(feed)


def test_invalid_feed_setting_error_does_not_echo_the_api_key() -> None:
    with pytest.raises(ValidationError) as caught:
        FeedSettings.model_validate(
            {"kind": "massive", "massive": {"api_key": "sk-live-123", "secure": "maybe"}}
        )

    assert "sk-live-123" not in str(caught.value)


def test_bars_feed_without_first_day_is_rejected() -> None:
    with pytest.raises(ValidationError, match="feed.bars.first_day is required"):
        FeedSettings(kind="bars")


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        ({"symbols": "AAPL", "universe": "dow30"}, "not both"),
        ({"first_day": "2025-01-03", "last_day": "2025-01-02"}, "before feed.bars.first_day"),
    ],
)
def test_inconsistent_bars_feed_is_rejected(bars: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FeedSettings.model_validate({"kind": "bars", "bars": {"first_day": "2025-01-02", **bars}})


def test_bars_feed_from_the_environment_style_values_is_accepted() -> None:
    feed = FeedSettings.model_validate(
        {"kind": "bars", "bars": {"universe": "dow30", "first_day": "2025-01-02", "speed": "60"}}
    )

    assert (feed.bars.universe, str(feed.bars.first_day), feed.bars.last_day, feed.bars.speed) == (
        "dow30", "2025-01-02", None, 60.0,
    )  # fmt: skip


def test_replay_speed_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        FeedSettings(kind="replay", replay={"path": Path("session.jsonl"), "speed": 0})  # type: ignore[arg-type]


def test_help_lists_nested_feed_variables() -> None:
    names = {name for name, _, _ in describe_settings()}

    assert {
        "TICKSTOCK_FEED__KIND",
        "TICKSTOCK_FEED__MASSIVE__API_KEY",
        "TICKSTOCK_FEED__MASSIVE__SUBSCRIPTIONS",
        "TICKSTOCK_FEED__REPLAY__PATH",
        "TICKSTOCK_FEED__REPLAY__SPEED",
    } <= names


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tls_cert_file": "server.pem"}, "go together"),
        ({"tls_key_file": "server.key"}, "go together"),
        ({"tls_client_ca_file": "clients.pem"}, "needs grpc.tls_cert_file"),
        ({"plaintext_port": 50052, "allow_plaintext": True}, "without it grpc.port is plaintext"),
        (
            {"tls_cert_file": "server.pem", "tls_key_file": "server.key", "plaintext_port": 50052},
            "refused unless grpc.allow_plaintext",
        ),
    ],
)
def test_incomplete_tls_settings_are_rejected(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GrpcSettings.model_validate(fields)


def test_complete_tls_settings_with_a_client_ca_are_accepted() -> None:
    grpc = GrpcSettings.model_validate(
        {"tls_cert_file": "server.pem", "tls_key_file": "server.key", "tls_client_ca_file": "clients.pem"}
    )

    assert (grpc.tls_cert_file, grpc.tls_client_ca_file) == (Path("server.pem"), Path("clients.pem"))


def test_backtest_fairness_defaults_and_bounds() -> None:
    patterns = PatternSettings()

    assert (
        patterns.backtest_max_active_per_user,
        patterns.backtest_max_in_flight,
        patterns.backtest_dispatch_silence_s,
    ) == (5, 8, 600.0)
    for field in ("backtest_max_active_per_user", "backtest_max_in_flight", "backtest_dispatch_silence_s"):
        with pytest.raises(ValidationError, match=field):
            PatternSettings.model_validate({field: 0})
