"""Supervisor: ordered start on readiness, restarts with a capped backoff, reverse-order stop, SIGKILL.

The children are tiny Python programs that record what happens to them ("start", "stop") in a shared
file, one line each, so the tests read the order of events rather than time anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from pathlib import Path

import pytest
from polling import eventually

from tickstock_server.app.supervisor import (
    ChildSpec,
    ReadinessCheck,
    Supervisor,
    SupervisorTimings,
    http_answers,
)
from tickstock_server.errors import SupervisorError

_LOGGER = "tickstock_server.app.supervisor"

_RECORDER = """
import os, signal, sys, time
from pathlib import Path
log, name = Path(sys.argv[1]), sys.argv[2]
def record(what):
    with log.open("a") as out:
        out.write(f"{what} {name} {os.getpid()}\\n")
"""
# Records "stop" on SIGTERM and exits 0; records "start" once that handler is in place.
_STOPS_ON_SIGTERM = """
signal.signal(signal.SIGTERM, lambda *_: (record("stop"), sys.exit(0)))
record("start")
while True:
    time.sleep(1)
"""
# Exits with code 3 once the file "crash" next to the log exists (at once when it already does).
_CRASHES_ON_CUE = """
record("start")
while not (log.parent / "crash").exists():
    time.sleep(0.01)
sys.exit(3)
"""
_IGNORES_SIGTERM = """
signal.signal(signal.SIGTERM, signal.SIG_IGN)
record("start")
while True:
    time.sleep(1)
"""
# On SIGTERM records "stop", then exits only once every child named in argv[3:] recorded "stop" too.
_STOPS_WITH_OTHERS = """
def stop(*_):
    record("stop")
    others = {f"stop {other}" for other in sys.argv[3:]}
    while not others <= {" ".join(line.split()[:2]) for line in log.read_text().splitlines()}:
        time.sleep(0.01)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
record("start")
while True:
    time.sleep(1)
"""
_EXITS_AT_ONCE = """
sys.exit(3)
"""

FAST = SupervisorTimings(ready_s=20.0, stop_s=20.0, restart_initial_s=0.01, restart_max_s=0.04)


def _events(log: Path) -> list[str]:
    """The recorded events, "start a", "stop a"... (without pids)."""
    if not log.exists():
        return []
    return [" ".join(line.split()[:2]) for line in log.read_text().splitlines()]


def _pids(log: Path, name: str) -> list[int]:
    return [
        int(line.split()[2]) for line in log.read_text().splitlines() if line.split()[:2] == ["start", name]
    ]


def _recorded(log: Path, event: str) -> ReadinessCheck:
    async def check() -> None:
        await eventually(lambda: event in _events(log))

    return check


async def _never() -> None:
    await asyncio.Event().wait()


def _child(log: Path, name: str, program: str, *args: str, ready: ReadinessCheck | None = None) -> ChildSpec:
    return ChildSpec(
        name=name,
        argv=(sys.executable, "-c", _RECORDER + program, str(log), name, *args),
        env=dict(os.environ),
        ready=ready or _recorded(log, f"start {name}"),
    )


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_children_start_in_order_and_stop_in_reverse_order(tmp_path: Path) -> None:
    log = tmp_path / "events"
    supervisor = Supervisor([_child(log, name, _STOPS_ON_SIGTERM) for name in ("a", "b", "c")], FAST)

    await supervisor.start()
    await supervisor.stop()

    assert _events(log) == ["start a", "start b", "start c", "stop c", "stop b", "stop a"]


async def test_a_crashed_child_is_restarted_and_its_exit_logged_with_its_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    log = tmp_path / "events"
    async with Supervisor([_child(log, "crasher", _CRASHES_ON_CUE)], FAST).running():
        first_pid = _pids(log, "crasher")[0]
        (tmp_path / "crash").touch()

        await eventually(lambda: _events(log).count("start crasher") >= 5)  # four restarts

    exits = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.__dict__.get("child") == "crasher"
    ]
    assert exits[0].__dict__["pid"] == first_pid
    assert {r.__dict__["exit_code"] for r in exits} == {3}
    assert f"crasher (pid {first_pid}) exited with code 3" in exits[0].getMessage()
    # 0.01 s doubling, capped at 0.04 s: quick crashes are not restarted in a tight loop.
    assert [r.__dict__["restart_delay_s"] for r in exits[:4]] == [0.01, 0.02, 0.04, 0.04]


async def test_the_backoff_starts_again_after_a_child_stayed_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    log = tmp_path / "events"
    # Every run counts as having stayed up long enough: each restart waits the initial delay again.
    timings = SupervisorTimings(
        ready_s=20.0, stop_s=20.0, restart_initial_s=0.01, restart_max_s=0.04, stable_after_s=0.0
    )
    async with Supervisor([_child(log, "crasher", _CRASHES_ON_CUE)], timings).running():
        (tmp_path / "crash").touch()
        await eventually(lambda: _events(log).count("start crasher") >= 4)

    delays = [r.__dict__["restart_delay_s"] for r in caplog.records if "restart_delay_s" in r.__dict__]
    assert delays[:3] == [0.01, 0.01, 0.01]


async def test_a_child_that_ignores_sigterm_is_killed_after_the_stop_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    log = tmp_path / "events"
    timings = SupervisorTimings(ready_s=20.0, stop_s=0.2)
    supervisor = Supervisor([_child(log, "stubborn", _IGNORES_SIGTERM)], timings)
    await supervisor.start()
    pid = _pids(log, "stubborn")[0]

    await supervisor.stop()

    assert _gone(pid)
    messages = [r.getMessage() for r in caplog.records]
    assert f"stubborn (pid {pid}) did not stop within 0.2 s of SIGTERM; killing it" in messages
    assert f"stubborn (pid {pid}) stopped: was killed by SIGKILL" in messages


async def test_children_stopped_together_all_get_sigterm_before_any_has_exited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=_LOGGER)
    log = tmp_path / "events"
    # Each exits only after the other got SIGTERM too: one after another, the first would be killed.
    children = [_child(log, "a", _STOPS_WITH_OTHERS, "b"), _child(log, "b", _STOPS_WITH_OTHERS, "a")]
    supervisor = Supervisor(children, SupervisorTimings(ready_s=20.0, stop_s=20.0), stop_together=True)
    await supervisor.start()

    await supervisor.stop()

    assert sorted(_events(log)[2:]) == ["stop a", "stop b"]
    stopped = sorted(r.getMessage().split(" (")[0] for r in caplog.records if "stopped:" in r.getMessage())
    assert stopped == ["a", "b"]
    assert all(
        r.getMessage().endswith("stopped: exited with code 0")
        for r in caplog.records
        if "stopped:" in r.getMessage()
    )


async def test_a_readiness_timeout_raises_and_stops_what_started(tmp_path: Path) -> None:
    log = tmp_path / "events"
    first = _child(log, "first", _STOPS_ON_SIGTERM)
    slow = _child(log, "slow", _STOPS_ON_SIGTERM, ready=_never)
    supervisor = Supervisor([first, slow], SupervisorTimings(ready_s=0.2, stop_s=20.0))

    with pytest.raises(SupervisorError, match=r"^slow \(pid \d+\) was not ready within 0.2 s$"):
        await supervisor.start()

    # The slow child may not have come as far as recording its start; "first" stopped after it.
    assert _events(log)[-1] == "stop first"
    assert all(_gone(pid) for name in ("first", "slow") for pid in _pids(log, name))


async def test_a_child_that_exits_before_it_is_ready_fails_the_start(tmp_path: Path) -> None:
    log = tmp_path / "events"
    supervisor = Supervisor([_child(log, "broken", _EXITS_AT_ONCE, ready=_never)], FAST)

    with pytest.raises(SupervisorError, match=r"^broken \(pid \d+\) exited with code 3 before it was ready$"):
        await supervisor.start()


async def test_a_program_that_cannot_be_started_fails_the_start(tmp_path: Path) -> None:
    missing = ChildSpec(name="missing", argv=[str(tmp_path / "no-such-program")], env={}, ready=_never)

    with pytest.raises(SupervisorError, match="^missing could not be started"):
        await Supervisor([missing], FAST).start()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _http_server(port: int) -> str:
    return f"""
import http.server, os
os.chdir({str(Path(__file__).parent)!r})
http.server.HTTPServer(("127.0.0.1", {port}), http.server.SimpleHTTPRequestHandler).serve_forever()
"""


async def test_http_readiness_waits_until_the_path_answers_200(tmp_path: Path) -> None:
    log, port = tmp_path / "events", _free_port()
    server = _child(log, "web", _http_server(port), ready=http_answers("127.0.0.1", port, "/"))

    async with Supervisor([server], FAST).running():
        _, writer = await asyncio.open_connection("127.0.0.1", port)  # it listens once the start returns
        writer.close()
        await writer.wait_closed()


async def test_http_readiness_does_not_take_an_error_status_for_ready(tmp_path: Path) -> None:
    log, port = tmp_path / "events", _free_port()
    missing_page = http_answers("127.0.0.1", port, "/no-such-page", interval_s=0.02)
    server = _child(log, "web", _http_server(port), ready=missing_page)

    with pytest.raises(SupervisorError, match="was not ready within"):
        await Supervisor([server], SupervisorTimings(ready_s=1.0, stop_s=20.0)).start()
