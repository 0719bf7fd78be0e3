"""Compile the detection core with mypyc, next to its sources, when its sources changed since the last build.

Run by scripts/bootstrap (so by scripts/test, scripts/check and CI). The modules and the staleness rule
are in tickstock_server/native.py. Without a C compiler or the Python headers it prints one line and
leaves the core interpreted; a compile that fails for any other reason fails the script.
Usage: .venv/bin/python scripts/build_native.py [--force]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from tickstock_server import native

_SERVER_DIR = native.PACKAGE_DIR.parent


def _missing_toolchain() -> str | None:
    # The compiler setuptools will call: $CC when set, else the one Python was built with.
    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler ({compiler})"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").is_file():
        return "no Python headers (Python.h)"
    return None


def _remove_build(server_dir: Path) -> None:
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    (server_dir / native.MANIFEST.relative_to(_SERVER_DIR)).unlink(missing_ok=True)
    for library in [
        *(server_dir / "tickstock_server").rglob("*" + suffix),
        server_dir / f"{native.GROUP}__mypyc{suffix}",
    ]:
        library.unlink(missing_ok=True)


def _compile(server_dir: Path) -> None:
    from mypyc.build import mypycify
    from setuptools import setup

    sources = [str(native.source_path(module).relative_to(_SERVER_DIR)) for module in native.COMPILED_MODULES]
    jobs = str(os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as work, contextlib.chdir(server_dir):
        log = io.StringIO()
        try:
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                extensions = mypycify(sources, group_name=native.GROUP, target_dir=work, multi_file=True)
                setup(
                    name="tickstock-native-core",
                    ext_modules=extensions,
                    script_args=[
                        "build_ext",
                        "--inplace",
                        "--parallel",
                        jobs,
                        "--build-temp",
                        work,
                        "--build-lib",
                        work,
                    ],
                )
        except BaseException:
            sys.stderr.write(log.getvalue())
            raise


def build(server_dir: Path = _SERVER_DIR, *, force: bool = False) -> str | None:
    """Compile the core in `server_dir` (a tree holding `tickstock_server`) unless its build is fresh.

    Returns the line to print, or None when the build was fresh. The sources must be those of this
    checkout (their digest is the one recorded).
    """
    digest = native.source_digest()
    manifest = server_dir / native.MANIFEST.relative_to(_SERVER_DIR)
    recorded = json.loads(manifest.read_text()).get("digest") if manifest.is_file() else None
    if not force and recorded == digest:
        return None
    _remove_build(server_dir)
    missing = _missing_toolchain()
    if missing is not None:
        return f"tickstock: {missing}: the detection core runs interpreted (pure Python)"
    started = time.monotonic()
    _compile(server_dir)
    manifest.write_text(json.dumps({"digest": digest, "python": sys.version}) + "\n")
    return f"tickstock: compiled the detection core with mypyc in {time.monotonic() - started:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when the build is fresh")
    line = build(force=parser.parse_args().force)
    if line is not None:
        print(line)


if __name__ == "__main__":
    main()
