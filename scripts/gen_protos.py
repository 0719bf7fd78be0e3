"""Regenerate the code for `tickstock.v1`: Python into `clients/python/tickstock/v1/`, TypeScript into
`clients/web/src/gen/`.

The protos import `buf/validate/validate.proto` (vendored in `protos/buf/validate/`) for their request
limits. Its Python module `buf.validate.validate_pb2` is generated too, into `clients/python/buf/validate/`
(the `protovalidate` runtime package ships only its own, differently built copy under a private name), so
the client distribution imports without the server's validation runtime. The TypeScript is generated
without those options.

Python comes from grpcio-tools' bundled protoc with the mypy-protobuf plugins, TypeScript from buf with
protoc-gen-es (installed by `npm ci` in clients/web, which this runs when it is missing), together with
`google.rpc.error_details` from the pinned googleapis-common-protos, so the dashboard can read
BadRequest details. No system protoc is needed and everything works offline. CI runs this and fails
when `git diff` shows a change.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import google.rpc
import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "clients" / "python"
PACKAGE = OUT / "tickstock" / "v1"
VALIDATE = OUT / "buf" / "validate"
VALIDATE_PROTO = "buf/validate/validate.proto"
# The plugins live next to the interpreter running this script (the project's venv).
BIN = Path(sys.executable).parent
WEB = ROOT / "clients" / "web"
WEB_GEN = WEB / "src" / "gen"


def main() -> int:
    """Generate both; return the first non-zero exit code, else 0."""
    return generate_python() or generate_typescript()


def generate_python() -> int:
    """Generate the Python stubs; return protoc's exit code."""
    sources = sorted(str(p.relative_to(PROTOS)) for p in (PROTOS / "tickstock" / "v1").glob("*.proto"))
    for stale in (*PACKAGE.glob("*_pb2*"), *VALIDATE.glob("*_pb2*")):
        stale.unlink()
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    messages = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{well_known}",
        f"--plugin=protoc-gen-mypy={shutil.which('protoc-gen-mypy', path=str(BIN))}",
        f"--python_out={OUT}",
        f"--mypy_out={OUT}",
    ]
    services = [
        f"--plugin=protoc-gen-mypy_grpc={shutil.which('protoc-gen-mypy_grpc', path=str(BIN))}",
        f"--grpc_python_out={OUT}",
        f"--mypy_grpc_out={OUT}",
    ]
    # validate.proto has no services: messages only, so no empty *_pb2_grpc module beside it.
    code = protoc.main([*messages, *services, *sources]) or protoc.main([*messages, VALIDATE_PROTO])
    if code == 0:
        for package in (OUT / "tickstock", PACKAGE, OUT / "buf", VALIDATE):
            (package / "__init__.py").touch()
        where = f"{PACKAGE.relative_to(ROOT)} and {VALIDATE.relative_to(ROOT)}"
        print(f"generated {len(sources) + 1} files into {where}")
    return int(code)


def generate_typescript() -> int:
    """Generate the dashboard's protobuf-es code with buf; return buf's exit code."""
    if not (WEB / "node_modules" / ".bin" / "protoc-gen-es").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    buf = shutil.which("buf", path=str(BIN)) or "buf"
    template = str(WEB / "buf.gen.yaml")
    shutil.rmtree(WEB_GEN, ignore_errors=True)
    with tempfile.TemporaryDirectory() as vendored:
        rpc = Path(vendored) / "google" / "rpc"
        rpc.mkdir(parents=True)
        shutil.copy(Path(google.rpc.__path__[0]) / "error_details.proto", rpc)
        # The request limits (buf.validate options) are the server's to check: the dashboard's code is
        # generated without them, so it neither imports validate.proto nor bundles its descriptors.
        for source, exclude in (("protos", ["--exclude-type", "buf.validate"]), (vendored, [])):
            command = [buf, "generate", source, "--template", template, *exclude]
            code = subprocess.run(command, cwd=ROOT).returncode
            if code != 0:
                return code
    print(f"generated {sum(1 for _ in WEB_GEN.rglob('*.ts'))} files into {WEB_GEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
