"""Child processes kept running: started in order, restarted when they exit, stopped in reverse order.

The generic half of `tickstock-server supervise` (`topology.py` says which processes): it knows no
roles. Each child starts once the one before it is ready, and runs in a session of its own, so the
terminal's Ctrl-C reaches only the supervisor, which then stops the children in its order. Their stdout
and stderr are the supervisor's, so their logs join its stream. A child that exits while it should run is
logged at WARNING and started again after a backoff (0.5 s doubling up to a cap, from the start again
once a child stayed up a while): a child that keeps crashing keeps being restarted, and the supervisor
carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from tickstock_server.errors import SupervisorError
from tickstock_server.support.backoff import Backoff

_logger = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]
"""Returns once a child is ready; the supervisor races it against the child's exit and a timeout."""


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One child process to run and keep running."""

    name: str
    """Its name in logs, e.g. "gateway-2"."""
    argv: Sequence[str]
    """Program and arguments; logged, so never a secret (pass those in `env`)."""
    env: Mapping[str, str]
    """Its whole environment (nothing is added); never logged."""
    ready: ReadinessCheck
    """When it is ready, so that the next child may start (see `alive_for` and `http_answers`)."""


@dataclass(frozen=True, slots=True)
class SupervisorTimings:
    """How long the supervisor waits, seconds."""

    ready_s: float = 60.0
    """Most a child may take to be ready when the supervisor starts."""
    stop_s: float = 30.0
    """Most a child may take to exit after SIGTERM before it gets SIGKILL."""
    restart_initial_s: float = 0.5
    """Wait before the first restart of a child; it doubles for each quick crash."""
    restart_max_s: float = 30.0
    """Longest wait before a restart."""
    stable_after_s: float = 60.0
    """A child that stayed up this long is restarted after `restart_initial_s` again."""


class _Child:
    """A spec and its current process."""

    def __init__(self, spec: ChildSpec, backoff: Backoff) -> None:
        self.spec = spec
        self.backoff = backoff
        self.process: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.watcher: asyncio.Task[None] | None = None

    async def spawn(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self.spec.argv,
            env=dict(self.spec.env),
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        self.process, self.started_at = process, asyncio.get_running_loop().time()
        _logger.info(
            "started %s (pid %d)",
            self.spec.name,
            process.pid,
            extra={"child": self.spec.name, "pid": process.pid},
        )
        return process


class Supervisor:
    """Runs `children`: see the module docstring. Use `running()`, or `start()` then `stop()`."""

    def __init__(
        self,
        children: Sequence[ChildSpec],
        timings: SupervisorTimings = SupervisorTimings(),
        *,
        stop_together: bool = False,
    ) -> None:
        """Prepare (but do not start) the children.

        Args:
            children: In start order; they stop in the reverse order.
            timings: Timeouts and restart delays.
            stop_together: Send every child SIGTERM at once and wait for all, instead of one after another
                (for interchangeable children, so that stopping N of them takes one stop timeout, not N).
        """
        self._specs = tuple(children)
        self._timings = timings
        self._stop_together = stop_together
        self._children: list[_Child] = []

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Start the children; on exit stop them."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        """Start the children in order, each once the one before is ready; then watch them.

        Raises:
            SupervisorError: A child could not be started, exited or was not ready in time; the children
                started before it are stopped again.
        """
        try:
            for spec in self._specs:
                child = _Child(spec, Backoff(self._timings.restart_initial_s, self._timings.restart_max_s))
                try:
                    process = await child.spawn()
                except OSError as exc:
                    raise SupervisorError(f"{spec.name} could not be started: {exc}") from exc
                self._children.append(child)
                await self._until_ready(child, process)
                child.watcher = asyncio.create_task(self._keep_running(child), name=f"supervise {spec.name}")
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the children (no more restarts): SIGTERM, then SIGKILL after the stop timeout.

        One after another in reverse start order, or all at once with `stop_together`. Idempotent.
        """
        children, self._children = self._children[::-1], []
        watchers = [child.watcher for child in children if child.watcher is not None]
        for watcher in watchers:
            watcher.cancel()
        if watchers:
            await asyncio.wait(watchers)
        if self._stop_together:
            await asyncio.gather(*(self._stop_child(child) for child in children))
        else:
            for child in children:
                await self._stop_child(child)

    async def _until_ready(self, child: _Child, process: asyncio.subprocess.Process) -> None:
        name, timeout_s = child.spec.name, self._timings.ready_s
        ready = asyncio.ensure_future(child.spec.ready())
        exited = asyncio.ensure_future(process.wait())
        try:
            done, _ = await asyncio.wait(
                [ready, exited], timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in (ready, exited):
                waiting.cancel()
            await asyncio.wait([ready, exited])
            for waiting in (ready, exited):
                if not waiting.cancelled():
                    waiting.exception()  # retrieved: one that failed as it was cancelled is not reported
        if ready in done:
            failure = ready.exception()
            if failure is not None:
                raise SupervisorError(f"the readiness check of {name} failed: {failure}") from failure
            _logger.info("%s (pid %d) is ready", name, process.pid, extra={"child": name, "pid": process.pid})
            return
        if exited in done:
            raise SupervisorError(
                f"{name} (pid {process.pid}) {describe_exit(exited.result())} before it was ready"
            )
        raise SupervisorError(f"{name} (pid {process.pid}) was not ready within {timeout_s:g} s")

    async def _keep_running(self, child: _Child) -> None:
        """Wait for the child to exit, log it, and start it again after the backoff; until cancelled."""
        loop = asyncio.get_running_loop()
        while child.process is not None:
            process = child.process
            returncode = await process.wait()
            uptime_s = loop.time() - child.started_at
            if uptime_s >= self._timings.stable_after_s:
                child.backoff.reset()
            delay_s = child.backoff.next_delay_s()
            child.restarts += 1
            _logger.warning(
                "%s (pid %d) %s after %.1f s; restarting it in %.1f s (restart %d)",
                child.spec.name,
                process.pid,
                describe_exit(returncode),
                uptime_s,
                delay_s,
                child.restarts,
                extra={
                    "child": child.spec.name,
                    "pid": process.pid,
                    "exit_code": returncode if returncode >= 0 else None,
                    "signal": _signal_name(-returncode) if returncode < 0 else None,
                    "restart_delay_s": delay_s,
                },
            )
            await self._respawn(child, delay_s)

    async def _respawn(self, child: _Child, delay_s: float) -> None:
        while True:
            await asyncio.sleep(delay_s)
            try:
                await child.spawn()
                return
            except OSError as exc:
                delay_s = child.backoff.next_delay_s()
                _logger.error(
                    "%s could not be started again (%s); trying again in %.1f s",
                    child.spec.name,
                    exc,
                    delay_s,
                    extra={"child": child.spec.name},
                )

    async def _stop_child(self, child: _Child) -> None:
        process, name = child.process, child.spec.name
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(self._timings.stop_s):
                await process.wait()
        except TimeoutError:
            _logger.warning(
                "%s (pid %d) did not stop within %g s of SIGTERM; killing it",
                name,
                process.pid,
                self._timings.stop_s,
                extra={"child": name, "pid": process.pid},
            )
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        returncode = process.returncode
        assert returncode is not None
        _logger.info(
            "%s (pid %d) stopped: %s", name, process.pid, describe_exit(returncode), extra={"child": name}
        )


def describe_exit(returncode: int) -> str:
    """How a process ended, from its return code: "exited with code 3" or "was killed by SIGKILL"."""
    if returncode < 0:
        return f"was killed by {_signal_name(-returncode)}"
    return f"exited with code {returncode}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def alive_for(seconds: float) -> ReadinessCheck:
    """Ready once the child has stayed up `seconds` (an earlier exit is the supervisor's to notice)."""

    async def check() -> None:
        await asyncio.sleep(seconds)

    return check


def http_answers(host: str, port: int, path: str = "/metrics", interval_s: float = 0.1) -> ReadinessCheck:
    """Ready once ``GET http://host:port/path`` answers 200 (polled every `interval_s`)."""

    async def check() -> None:
        while not await _http_ok(host, port, path):  # noqa: ASYNC110 - another process: no event to wait on
            await asyncio.sleep(interval_s)

    return check


async def _http_ok(host: str, port: int, path: str) -> bool:
    try:
        async with asyncio.timeout(2.0):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
                await writer.drain()
                status_line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
    except (OSError, TimeoutError):
        return False
    return status_line.split(b" ")[1:2] == [b"200"]
