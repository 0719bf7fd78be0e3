"""Event detection: pure, synchronous, per-symbol detectors and the engine that runs them."""

from tickstock_server.detection.engine import DetectionEngine
from tickstock_server.detection.high_low import HighLowConfig, HighLowDetector, PriceTier

__all__ = ["DetectionEngine", "HighLowConfig", "HighLowDetector", "PriceTier"]
