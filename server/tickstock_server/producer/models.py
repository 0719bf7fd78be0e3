"""Pydantic models of TickStockPL's message payloads: strict types and ranges, no coercion, no NaN.

Only `messages` uses them; they check the JSON's shape and types, and `messages` builds domain values
from them. A validation error's first field names the reject reason (``bad_<field>``, ``missing_<field>``).
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "MAX_EPOCH_S",
    "MIN_EPOCH_S",
    "HealthModel",
    "IndicatorsModel",
    "PatternEnvelopeModel",
    "PatternModel",
    "ProgressModel",
    "ResultMetricsModel",
    "ResultModel",
    "StrictModel",
    "field_reasons",
]

MIN_EPOCH_S: Final = 946_684_800.0
"""Earliest plausible time stamp, epoch seconds: 2000-01-01T00:00:00Z."""
MAX_EPOCH_S: Final = 4_102_444_800.0
"""Latest plausible time stamp, epoch seconds: 2100-01-01T00:00:00Z."""

_Finite = Annotated[float, Field(allow_inf_nan=False)]
_EpochS = Annotated[float, Field(ge=MIN_EPOCH_S, le=MAX_EPOCH_S)]
"""Epoch seconds within 2000-2100 (a millisecond timestamp is out of range, not a far future date)."""
_FlowId = Annotated[str, Field(max_length=128)]
_JobId = Annotated[str, Field(min_length=1, max_length=128)]


def _integral_float_to_int(value: Any) -> Any:
    # JSON producers often write counts as 12.0; that is still a count. 12.5 stays a float and fails.
    if type(value) is float and value.is_integer():
        return int(value)
    return value


class StrictModel(BaseModel):
    """Base of the payload models: strict types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")


class IndicatorsModel(StrictModel):
    """``indicators``: the three the scan filters on are checked; others (sma_20, ...) are ignored."""

    relative_strength: _Finite | None = None
    relative_volume: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    rsi: Annotated[float, Field(ge=0, le=100)] | None = None


class PatternModel(StrictModel):
    """The pattern fields of a ``pattern_detected`` / ``pattern_updated`` message."""

    symbol: Annotated[str, Field(max_length=32)]
    pattern: Annotated[str, Field(max_length=64)] | None = None
    pattern_name: Annotated[str, Field(max_length=64)] | None = None
    """Legacy name of `pattern`."""
    confidence: Annotated[float, Field(ge=0, le=1)]
    """0 to 1 (range checks also reject NaN)."""
    flow_id: _FlowId | None = None
    tier: str | None = None
    """"daily", "intraday" or "combo"; other values mean no timeframe."""
    source: str | None = None
    """The tier under its other name (or, in a flat message, the producer's name)."""
    price_change: _Finite | None = None
    """Percent."""
    current_price: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    volume: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    """Checked for type only; the domain pattern does not keep it."""
    timestamp: _EpochS | None = None
    """Detection time, epoch seconds."""
    expires_at: _EpochS | None = None
    """End of validity, epoch seconds."""
    indicators: IndicatorsModel | None = None


class _EnvelopedPatternModel(PatternModel):
    data: None = None
    """A ``data`` inside ``data`` (doubly nested) is left to the general path."""


class PatternEnvelopeModel(StrictModel):
    """The contract's pattern envelope, validated straight from JSON bytes: the fast path for the usual shape.

    Only a message this model accepts and the general path would read the same way takes the fast path;
    any other (legacy shapes, ``pattern_expired``, errors) goes the general way, which gives the reason.
    """

    event_type: Literal["pattern_detected", "pattern_updated"] = "pattern_detected"
    timestamp: _EpochS | None = None
    flow_id: _FlowId | None = None
    """Used when ``data`` has none."""
    data: _EnvelopedPatternModel


class ProgressModel(StrictModel):
    """A ``backtest_progress`` message."""

    job_id: _JobId
    progress: Annotated[float, Field(ge=0, le=1)]
    """Fraction done, 0 to 1."""
    current_symbol: Annotated[str, Field(max_length=32)] | None = None
    estimated_completion: _Finite | Annotated[str, Field(max_length=64)] | None = None
    """Epoch seconds or an ISO-8601 time."""


class ResultModel(StrictModel):
    """A ``backtest_result`` message."""

    job_id: _JobId
    status: Annotated[str, Field(min_length=1, max_length=32)] = "completed"
    results: dict[str, Any] = Field(default_factory=dict)
    error: Annotated[str, Field(max_length=2000)] | None = None


class ResultMetricsModel(StrictModel):
    """The metrics inside a result's ``results``, in the producer's units."""

    total_return: _Finite | None = None
    win_rate: _Finite | None = None
    total_trades: Annotated[int, BeforeValidator(_integral_float_to_int), Field(ge=0)] | None = None
    sharpe_ratio: _Finite | None = None
    max_drawdown: _Finite | None = None
    error: Annotated[str, Field(max_length=2000)] | None = None


class HealthModel(StrictModel):
    """A ``system_health`` message."""

    event_type: str | None = None
    source: Annotated[str, Field(max_length=128)] = ""
    timestamp: _EpochS | None = None
    data: dict[str, Any] | None = None


def field_reasons(*models: type[StrictModel]) -> frozenset[str]:
    """Every ``missing_<field>`` and ``bad_<field>`` reason validating against `models` can give."""
    reasons = set()
    for model in models:
        for name, field in model.model_fields.items():
            reasons.add(f"bad_{name}")
            if field.is_required():
                reasons.add(f"missing_{name}")
    return frozenset(reasons)
