"""Shared fixtures; as the rootdir conftest it puts tests/ on sys.path (`from factories import ...`)."""

import os
from pathlib import Path

import pytest

# Before anything imports grpc. Tests start embedded PostgreSQL and other programs with fork and exec from
# a process whose gRPC threads are running; gRPC's fork handlers then run in the child before the exec,
# and once crashed it (pg_ctl died of SIGSEGV, with an epoll error of gRPC's in its output). The tests
# never use gRPC across a fork.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

pytest_plugins = ["wall_clock", "real_servers", "fault_figures"]

# Port contract suites are plain modules the test modules import: have pytest explain their asserts too.
pytest.register_assert_rewrite(*(path.stem for path in Path(__file__).parent.glob("*_contract.py")))
