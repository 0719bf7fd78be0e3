"""Ticker symbols: the one syntax check every layer applies to a symbol it is given."""

from __future__ import annotations

import re

_SYMBOL = re.compile(r"[A-Z][A-Z0-9.\-]{0,14}")


def is_symbol(text: str) -> bool:
    """Whether `text` is a ticker: an upper-case letter, then up to 14 letters, digits, '.' or '-'.

    For example ``AAPL``, ``BRK.B`` or ``BF-B``. Case matters: callers that accept lower case
    upper-case the text first. Whether the symbol exists is for the symbol store to say.
    """
    return _SYMBOL.fullmatch(text) is not None
