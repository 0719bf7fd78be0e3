"""Run the suite as if the wall clock were at a chosen instant: `pytest --wall-clock=2026-12-05T12:00-05:00`.

The clock starts at that instant and runs on in real time. In the test process time-machine moves it.
Child processes (the real server, embedded Redis and PostgreSQL, the CLI) get the same offset from
libfaketime, preloaded through the environment they inherit, so every process of a test agrees on
"now". Time still runs at its real pace everywhere, so timeouts and pacing measure real durations.
(libfaketime also moves children's monotonic clock by the offset: its sleeps fail with EINVAL when told
to leave the monotonic clock alone.)

Without the option (or `TICKSTOCK_TEST_WALL_CLOCK`) nothing changes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob
import os
import time
import types

import grpc._channel
import grpc._utilities
import grpc.aio._utils
import pytest
import time_machine

_LIBFAKETIME = "/usr/lib/*/faketime/libfaketimeMT.so.1"
_traveller: time_machine.travel | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--wall-clock",
        default=os.environ.get("TICKSTOCK_TEST_WALL_CLOCK") or None,
        help="ISO-8601 instant with a UTC offset to run every process's wall clock from",
    )


def pytest_configure(config: pytest.Config) -> None:
    global _traveller
    value = config.getoption("--wall-clock")
    if not value or _is_xdist_controller(config):
        return
    instant = dt.datetime.fromisoformat(value)
    if instant.tzinfo is None:
        raise pytest.UsageError(f"--wall-clock needs a UTC offset, as in 2026-12-05T12:00-05:00: {value!r}")
    libraries = sorted(glob.glob(_LIBFAKETIME))
    if not libraries:
        raise pytest.UsageError(
            "--wall-clock needs libfaketime for child processes (apt-get install libfaketime)"
        )
    # Whole seconds: libfaketime takes an integral offset, and both mechanisms must agree exactly.
    offset_s = round(instant.timestamp() - time.time())
    os.environ["LD_PRELOAD"] = " ".join(filter(None, [libraries[0], os.environ.get("LD_PRELOAD")]))
    os.environ["FAKETIME"] = f"{offset_s:+d}"
    _remove_stale_faketime_files()
    _traveller = time_machine.travel(time.time() + offset_s, tick=True)
    _traveller.start()
    _give_grpc_the_real_clock()


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process only hands tests to pytest-xdist's workers. Each worker moves its own clock:
    moved here, the workers would inherit libfaketime and measure their offset on an already moved clock.
    """
    workers = config.getoption("numprocesses", default=None)
    return bool(workers) and not hasattr(config, "workerinput")


def _give_grpc_the_real_clock() -> None:
    """grpc turns timeouts into absolute deadlines with `time.time()`, and its C core measures those on
    the real clock: computed on the moved clock, every deadline in the past would already be over."""
    real = types.SimpleNamespace(**vars(time))
    real.time = time_machine.escape_hatch.time.time
    for module in (grpc.aio._utils, grpc._channel, grpc._utilities):
        module.time = real  # type: ignore[attr-defined]


def pytest_runtest_teardown(item: pytest.Item) -> None:
    if _traveller is not None:
        _remove_stale_faketime_files()


def _remove_stale_faketime_files() -> None:
    """Remove the semaphores and shared memory libfaketime left behind by processes that are gone.

    libfaketime names them after the pid of the process that created them and removes them when that
    process exits normally, not when it is killed (tests SIGKILL servers). Pids wrap around
    (`/proc/sys/kernel/pid_max` may be 32768), and a later process that gets the same pid cannot create
    its own: when it runs as another user, as PostgreSQL's initdb does, it cannot open the stale ones
    either, and libfaketime exits it with "sem_open failed and recreation attempts failed".
    """
    for path in glob.glob("/dev/shm/sem.faketime_sem_*") + glob.glob("/dev/shm/faketime_shm_*"):
        pid = path.rpartition("_")[2]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            with contextlib.suppress(OSError):  # another session removed it first
                os.unlink(path)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _traveller
    if _traveller is not None:
        _traveller.stop()
        _traveller = None


def pytest_report_header(config: pytest.Config) -> str | None:
    value = config.getoption("--wall-clock")
    return f"wall clock: from {value} (time-machine in process, libfaketime in children)" if value else None
