"""Regenerate the Python code for `tickstock.v1` into `clients/python/tickstock/v1/`.

Runs grpcio-tools' bundled protoc with the mypy-protobuf plugins, so no system protoc is needed and
everything works offline. CI runs this and fails when `git diff` shows a change.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "clients" / "python"
PACKAGE = OUT / "tickstock" / "v1"
# The plugins live next to the interpreter running this script (the project's venv).
BIN = Path(sys.executable).parent


def main() -> int:
    """Generate the stubs; return protoc's exit code."""
    sources = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "tickstock" / "v1").glob("*.proto"))
    for stale in PACKAGE.glob("*_pb2*"):
        stale.unlink()
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={shutil.which('protoc-gen-mypy', path=str(BIN))}",
        f"--plugin=protoc-gen-mypy_grpc={shutil.which('protoc-gen-mypy_grpc', path=str(BIN))}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *sources,
    ]
    code = protoc.main(args)
    if code == 0:
        for init in (OUT / "tickstock" / "__init__.py", PACKAGE / "__init__.py"):
            init.touch()
        print(f"generated {len(sources)} files into {PACKAGE.relative_to(ROOT)}")
    return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
