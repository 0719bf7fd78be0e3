"""The dashboard's colours are readable: every text colour on every background meets WCAG AA (4.5:1)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

STYLES = Path(__file__).resolve().parents[3] / "clients" / "web" / "static" / "styles.css"
BACKGROUNDS = ("--bg", "--panel")
TEXT = (
    "--text", "--muted", "--accent", "--up", "--down", "--high", "--low", "--trend", "--surge", "--pattern",
)  # fmt: skip
# Inputs and buttons draw on these two; they are literals in the stylesheet.
CONTROL_BACKGROUNDS = ("#0e1726", "#1d2d47")


def _colours() -> dict[str, str]:
    return dict(re.findall(r"(--[a-z]+):\s*(#[0-9a-fA-F]{6});", STYLES.read_text()))


def _luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_of_known_pairs() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("text", TEXT)
def test_every_text_colour_is_readable_on_every_background(text: str) -> None:
    colours = _colours()
    backgrounds = [colours[name] for name in BACKGROUNDS] + list(CONTROL_BACKGROUNDS)

    ratios = {background: round(contrast(colours[text], background), 2) for background in backgrounds}

    assert min(ratios.values()) >= 4.5, ratios
