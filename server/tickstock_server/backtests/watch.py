"""Watching backtests: one conflating mailbox per watcher, the state a job's watchers share, the registry."""

from __future__ import annotations

from dataclasses import dataclass, field

from tickstock_server.domain.backtests import Backtest
from tickstock_server.support.mailbox import Mailbox, OverflowPolicy
from tickstock_server.support.stream_limits import StreamLimiter


def watcher_mailbox() -> Mailbox[Backtest]:
    """A watcher's mailbox: it holds at most one unread state; a newer state replaces an unread one.

    Overflow policy: conflate (counted in `dropped`). A watcher wants the job's latest state, not every
    intermediate progress value, so a slow reader loses only superseded states and never the final
    one, which is always the last put.
    """
    return Mailbox(1, OverflowPolicy.CONFLATE)


@dataclass(slots=True, eq=False)
class Watched:
    """A job with at least one watcher: its latest known state and one mailbox per watcher."""

    state: Backtest | None = None
    """Latest state; None while the first watcher is still loading it."""
    mailboxes: set[Mailbox[Backtest]] = field(default_factory=set)


def supersedes(new: Backtest, old: Backtest) -> bool:
    """Whether `new` is a later state of the same job than `old` (a final state is never superseded)."""
    if old.state.is_final:
        return False
    if new.state.is_final:
        return True
    return new.update_ns >= old.update_ns and new != old


class WatchRegistry:
    """The watched jobs of one process and their watchers, with a per-user bound on watchers."""

    def __init__(self, *, max_watchers_per_user: int) -> None:
        self._limits = StreamLimiter(
            max_watchers_per_user, refusal="a user may stream at most {limit} backtests at once"
        )
        self._watched: dict[str, Watched] = {}
        self._closed_replaced = 0

    def open(self, user: str, backtest_id: str) -> tuple[Watched, Mailbox[Backtest]]:
        """Register a watcher of `user` on a job; `close` it when done.

        Raises:
            LimitExceededError: `user` already has the most watchers allowed.
        """
        self._limits.acquire(user)
        watched = self._watched.setdefault(backtest_id, Watched())
        mailbox = watcher_mailbox()
        watched.mailboxes.add(mailbox)
        return watched, mailbox

    def close(self, user: str, backtest_id: str, watched: Watched, mailbox: Mailbox[Backtest]) -> None:
        """Unregister a watcher; the job is forgotten with its last watcher."""
        self._closed_replaced += mailbox.dropped
        watched.mailboxes.discard(mailbox)
        if not watched.mailboxes and self._watched.get(backtest_id) is watched:
            del self._watched[backtest_id]
        self._limits.release(user)

    def latest(self, backtest_id: str) -> Backtest | None:
        """The latest state the watchers of a job have; None when nobody watches it (or it is loading)."""
        watched = self._watched.get(backtest_id)
        return None if watched is None else watched.state

    def show(self, backtest: Backtest) -> None:
        """Hand a new state to the job's watchers, unless they already have a newer one."""
        watched = self._watched.get(backtest.backtest_id)
        if watched is None or (watched.state is not None and not supersedes(backtest, watched.state)):
            return
        watched.state = backtest
        for mailbox in watched.mailboxes:
            mailbox.put(backtest)

    @property
    def watchers(self) -> int:
        """Open watchers."""
        return self._limits.total

    @property
    def replaced(self) -> int:
        """States watchers never read because newer ones replaced them (conflation), ever."""
        # Snapshots (each copied in one C call): metrics read this from another thread.
        watched_jobs = list(self._watched.values())
        open_replaced = sum(m.dropped for watched in watched_jobs for m in list(watched.mailboxes))
        return self._closed_replaced + open_replaced
