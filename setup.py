"""Setuptools hook: a regular (non-editable) install compiles the detection core with mypyc into the wheel.

Editable installs (scripts/bootstrap) compile next to the sources instead, with scripts/build_native.py,
which this hook also uses; without a C compiler the wheel holds the pure-Python core.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

_ROOT = Path(__file__).resolve().parent


class _BuildPyWithNativeCore(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        sys.path.insert(0, str(_ROOT / "server"))
        spec = importlib.util.spec_from_file_location("build_native", _ROOT / "scripts" / "build_native.py")
        assert spec is not None and spec.loader is not None
        build_native = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(build_native)
        line = build_native.build(Path(self.build_lib), force=True)
        if line is not None:
            print(line)


class _PlatformDistribution(Distribution):
    # The wheel holds extension modules, so it is tagged for this Python and platform, not py3-none-any.
    def has_ext_modules(self) -> bool:
        return True


setup(cmdclass={"build_py": _BuildPyWithNativeCore}, distclass=_PlatformDistribution)
