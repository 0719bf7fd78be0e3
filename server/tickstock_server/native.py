"""The compiled detection core: which modules mypyc compiles, and whether this process runs them.

`scripts/build_native.py` (run by `scripts/bootstrap`) compiles `COMPILED_MODULES` with mypyc into
extension modules next to their sources and records the digest of those sources in `MANIFEST`. Python
would import an extension module in preference to its source, so `install` (called by the package's
`__init__`, before any of these modules can be imported) decides once per process:

- compiled, when the manifest's digest equals the digest of the sources as they are now;
- interpreted otherwise: sources edited since the build (stale: one warning), no build at all (no C
  compiler, or never built), or `TICKSTOCK_NATIVE=0` in the environment. A finder then loads every
  listed module from its `.py` file. It is all or nothing: compiled code reaches into the native layout
  of the other compiled modules' classes, so a mix of the two builds is never run.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["COMPILED_MODULES", "ENV_SWITCH", "GROUP", "MANIFEST", "install", "mode", "source_digest"]

_logger = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
"""The directory of the `tickstock_server` package."""

COMPILED_MODULES: tuple[str, ...] = (
    "tickstock_server.domain.tick",
    "tickstock_server.domain.bar",
    "tickstock_server.domain.events",
    "tickstock_server.domain.market_session",
    "tickstock_server.feeds.massive_typed",
    "tickstock_server.detection.engine",
    "tickstock_server.detection.bars",
    "tickstock_server.detection.event_fields",
    "tickstock_server.detection.packed_columns",
    "tickstock_server.detection.price_bucket",
    "tickstock_server.detection.volume_ring",
    "tickstock_server.detection.high_low",
    "tickstock_server.detection.trend",
    "tickstock_server.detection.trend_config",
    "tickstock_server.detection.trend_series",
    "tickstock_server.detection.trend_windows",
    "tickstock_server.detection.surge",
    "tickstock_server.detection.surge_config",
    "tickstock_server.detection.surge_points",
    "tickstock_server.detection.surge_conditions",
)
"""The modules mypyc compiles, as one group (one shared library)."""

GROUP = "tickstock_native_core"
"""mypyc's group name: the shared library is the top-level module `tickstock_native_core__mypyc`, beside
the package (mypyc 2.4 cannot build a group named inside a package from several C files)."""

MANIFEST = PACKAGE_DIR / "native_build.json"
"""Written by the build (never committed): {"digest": source_digest(), "python": sys.version}."""

ENV_SWITCH = "TICKSTOCK_NATIVE"
"""Environment variable: "0" runs the interpreted modules even when a fresh build exists."""

_mode = "interpreted: not decided yet"


def source_path(module: str) -> Path:
    """The `.py` file of one of `COMPILED_MODULES`."""
    return PACKAGE_DIR.joinpath(*module.split(".")[1:]).with_suffix(".py")


def source_digest() -> str:
    """SHA-256 over the names and contents of the compiled modules' sources and the Python version."""
    digest = hashlib.sha256(sys.version.encode())
    for module in COMPILED_MODULES:
        digest.update(module.encode() + b"\0" + source_path(module).read_bytes() + b"\0")
    return digest.hexdigest()


def built_digest() -> str | None:
    """The digest recorded by the last build, or None when there is no (readable) build manifest."""
    try:
        recorded = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return None
    digest = recorded.get("digest") if isinstance(recorded, dict) else None
    return digest if isinstance(digest, str) else None


class _SourceFinder(importlib.abc.MetaPathFinder):
    """Finds the listed modules' `.py` files, ahead of the extension modules beside them."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        del path, target
        if fullname not in COMPILED_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, source_path(fullname))


def _decide() -> str:
    if os.environ.get(ENV_SWITCH) == "0":
        return f"interpreted: {ENV_SWITCH}=0"
    recorded = built_digest()
    if recorded is None:
        return "interpreted: no compiled build (scripts/bootstrap builds it where a C compiler exists)"
    if recorded != source_digest():
        _logger.warning(
            "The compiled detection core is older than its sources: running it interpreted "
            "(scripts/bootstrap rebuilds it)"
        )
        return "interpreted: the compiled build is stale"
    return "compiled"


def install() -> None:
    """Decide once per process between the compiled and interpreted modules (see the module docs)."""
    global _mode
    if not _mode.startswith("interpreted: not decided"):
        return
    _mode = _decide()
    if _mode != "compiled":
        sys.meta_path.insert(0, _SourceFinder())


def mode() -> str:
    """The build this process runs: `compiled`, or `interpreted: <why>`."""
    return _mode
