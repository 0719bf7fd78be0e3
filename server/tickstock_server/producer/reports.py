"""TickStockPL's backtest progress, backtest result and health messages validated into domain values."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from tickstock_server.domain.backtests import (
    MAX_ERROR_MESSAGE_CHARS,
    BacktestOutcome,
    BacktestResult,
    BacktestState,
    OutcomeReport,
)
from tickstock_server.errors import MessageRejectedError
from tickstock_server.producer.decoding import (
    DEFAULT_MAX_MESSAGE_BYTES,
    check_event_type,
    check_size,
    decode_object,
    epoch_ns,
    plausible_epoch_s,
    symbol,
    validate,
)
from tickstock_server.producer.events import BacktestProgress, ProducerHealth
from tickstock_server.producer.models import (
    HealthModel,
    ProgressModel,
    ResultMetricsModel,
    ResultModel,
)

__all__ = ["parse_backtest_outcome", "parse_backtest_progress", "parse_producer_health"]

_HEALTH_EVENT_TYPES: Final = frozenset({"system_health"})
_HEALTH_ENVELOPE_KEYS: Final = frozenset({"event_type", "source", "timestamp"})


def parse_backtest_progress(
    raw: bytes | str, *, received_ns: int, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> BacktestProgress:
    """Validate a message of ``tickstock.events.backtesting.progress``.

    The fields ``job_id, progress, current_symbol, estimated_completion`` sit at the top level (as the
    original read them) or in an envelope's ``data``. ``progress`` is a fraction, 0 to 1 (the original
    formatted it with ``:.1%``); a value above 1 is rejected ("bad_progress") rather than read as a
    percentage, since 1 itself would be ambiguous. ``estimated_completion`` is epoch seconds or an
    ISO-8601 time (UTC unless it says otherwise).

    Raises:
        MessageRejectedError: The message is invalid; its reason says why.
    """
    check_size(raw, max_bytes)
    fields = validate(ProgressModel, _job_payload(decode_object(raw)))
    current_symbol = fields.current_symbol
    return BacktestProgress(
        job_id=fields.job_id,
        progress=fields.progress,
        current_symbol=None if current_symbol is None else symbol(current_symbol, "bad_current_symbol"),
        estimated_completion_ns=_completion_ns(fields.estimated_completion),
        received_ns=received_ns,
    )


def parse_backtest_outcome(
    raw: bytes | str, *, received_ns: int, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> OutcomeReport:
    """Validate a message of ``tickstock.events.backtesting.results`` into the domain's outcome.

    The fields ``job_id, status, results`` sit at the top level or in an envelope's ``data``. A
    missing status means "completed", as in the original. Status "completed" (any case) means COMPLETED,
    with the metrics of ``results`` (type-checked) and everything else in it as details; "cancelled" or
    "canceled" means CANCELLED; any other status means FAILED, with ``error`` as the message, else one
    from ``results`` (``error``, ``error_message``, ``message`` or ``reason``), else one naming the status.

    Raises:
        MessageRejectedError: The message is invalid; its reason says why.
    """
    check_size(raw, max_bytes)
    fields = validate(ResultModel, _job_payload(decode_object(raw)))
    metrics = validate(ResultMetricsModel, fields.results)
    return OutcomeReport(
        backtest_id=fields.job_id, outcome=_outcome(fields, metrics), received_ns=received_ns
    )


def parse_producer_health(
    raw: bytes | str, *, received_ns: int, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> ProducerHealth:
    """Validate a message of ``tickstock.health.status``.

    The shape is ``{event_type:'system_health', source, timestamp, data:{...}}``; without ``data``, the
    fields other than the envelope's are the details.

    Raises:
        MessageRejectedError: The message is invalid; its reason says why.
    """
    check_size(raw, max_bytes)
    message = decode_object(raw)
    fields = validate(HealthModel, message)
    if fields.event_type is not None:
        check_event_type(fields.event_type, _HEALTH_EVENT_TYPES)
    details: Mapping[str, object]
    if fields.data is not None:
        details = fields.data
    else:
        details = {key: value for key, value in message.items() if key not in _HEALTH_ENVELOPE_KEYS}
    status = details.get("status")
    return ProducerHealth(
        source=fields.source,
        status=status if isinstance(status, str) else None,
        reported_ns=received_ns if fields.timestamp is None else epoch_ns(fields.timestamp),
        details=MappingProxyType(dict(details)),
        received_ns=received_ns,
    )


def _job_payload(message: dict[str, Any]) -> dict[str, Any]:
    """The dict holding a backtest message's fields: the top level, or an envelope's ``data``."""
    inner = message.get("data")
    if "job_id" not in message and type(inner) is dict:
        return inner
    return message


def _completion_ns(value: float | str | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise MessageRejectedError("bad_estimated_completion", repr(value[:64])) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        seconds = moment.timestamp()
    else:
        seconds = value
    if not (math.isfinite(seconds) and plausible_epoch_s(seconds)):
        raise MessageRejectedError("bad_estimated_completion", repr(value)[:64])
    return epoch_ns(seconds)


_METRICS: Final = ("total_return", "win_rate", "sharpe_ratio", "max_drawdown", "total_trades")
_ERROR_KEYS: Final = ("error", "error_message", "message", "reason")


def _outcome(fields: ResultModel, metrics: ResultMetricsModel) -> BacktestOutcome:
    status = fields.status.lower()
    if status == "completed":
        return BacktestOutcome(state=BacktestState.COMPLETED, result=_result(fields.results, metrics))
    if status in ("cancelled", "canceled"):
        return BacktestOutcome(state=BacktestState.CANCELLED)
    found = next((v for k in _ERROR_KEYS if isinstance(v := fields.results.get(k), str) and v), "")
    message = fields.error or found or f"the producer reported status {fields.status[:80]!r}"
    return BacktestOutcome(
        state=BacktestState.FAILED,
        error_message=message.replace("\x00", "")[:MAX_ERROR_MESSAGE_CHARS],
    )


def _result(results: dict[str, Any], metrics: ResultMetricsModel) -> BacktestResult:
    """The reported (validated) metrics; the rest of ``results``, a metric sent as null too, as details."""
    details = dict(results)
    values: dict[str, Any] = {}
    for name in _METRICS:
        value = getattr(metrics, name)
        if value is not None:
            values[name] = value
            del details[name]
    return BacktestResult(details=MappingProxyType(details), **values)
