"""Failed authentications: counted, logged without secrets, and limited per peer address.

Each peer address has a token bucket of failures: `burst` at first, refilled at `failures_per_s`.
Every failure takes one. A peer whose bucket is empty gets RESOURCE_EXHAUSTED (reason AUTH_THROTTLED,
with `RetryInfo`) for every token the server has not verified recently, without a database lookup,
until the bucket holds a failure again. Tokens verified recently still work, so a client sharing the
address with an attacker (behind one NAT or one proxy) keeps its open sessions.

Each failure is logged at INFO with the peer, the reason and the key id the token names (the public
``tsk_<key id>`` part, never the secret or the whole token), at most one line per peer per
`log_interval_s`; the line counts the failures since the previous one. The peer table is bounded: the
least recently seen peer is forgotten first (it starts again with a full bucket).
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from tickstock_server.domain.api_keys import claimed_key_id
from tickstock_server.errors import AuthThrottledError
from tickstock_server.support.metric_samples import MetricSample, counter

_logger = logging.getLogger(__name__)

FAILURES_PER_S = 10.0
"""Failures a peer may keep making per second before it is throttled."""
BURST = 20
"""Failures a peer may make at once (its full bucket)."""
_MAX_PEER_CHARS = 100

FailureReason = Literal["missing", "malformed", "rejected"]
"""Why a call failed to authenticate: no credential, one not of the form "Bearer <token>", or a token
that is unknown, expired or revoked (told apart only in the server's logs, never to the caller)."""
FAILURE_REASONS: Final[tuple[FailureReason, ...]] = ("missing", "malformed", "rejected")


@dataclass(slots=True)
class _Peer:
    failures_left: float
    refilled_s: float
    unlogged: int = 0
    logged_s: float | None = None


class AuthFailures:
    """Counts failed authentications, logs them rate-limited, and throttles peers that fail too often."""

    def __init__(
        self,
        *,
        failures_per_s: float = FAILURES_PER_S,
        burst: int = BURST,
        max_peers: int = 10_000,
        log_interval_s: float = 10.0,
        monotonic_s: Callable[[], float] = time.monotonic,
    ) -> None:
        """Allow each peer `burst` failures at once and `failures_per_s` afterwards (see the module)."""
        self._rate = failures_per_s
        self._burst = burst
        self._max_peers = max_peers
        self._log_interval_s = log_interval_s
        self._monotonic_s = monotonic_s
        self._peers: OrderedDict[str, _Peer] = OrderedDict()
        self.failures_total = 0
        """Failed authentications since the start."""
        self.failures_by_reason: dict[FailureReason, int] = dict.fromkeys(FAILURE_REASONS, 0)
        """Failed authentications since the start, by reason (every reason present, from 0)."""
        self.throttled_total = 0
        """Calls refused because their peer had failed too often."""

    def check(self, peer: str) -> None:
        """Let a peer try to authenticate.

        Raises:
            AuthThrottledError: The peer has used up its failures; it may try again after the delay.
        """
        state = self._peers.get(peer)
        if state is None:
            return
        self._refill(state)
        if state.failures_left < 1:
            self.throttled_total += 1
            raise AuthThrottledError((1 - state.failures_left) / self._rate)

    def record(self, peer: str, token: str | None, reason: FailureReason) -> None:
        """Count a failure of `peer` (with `token`, None when none was sent) and log it if due."""
        self.failures_total += 1
        self.failures_by_reason[reason] += 1
        state = self._peer(peer)
        self._refill(state)
        state.failures_left = max(state.failures_left - 1, 0.0)
        state.unlogged += 1
        now_s = state.refilled_s
        if state.logged_s is None or now_s - state.logged_s >= self._log_interval_s:
            key_id = claimed_key_id(token) if token is not None else None
            _logger.info(
                "authentication failed",
                extra={"peer": peer, "reason": reason, "key_id": key_id or "", "failures": state.unlogged},
            )
            state.unlogged = 0
            state.logged_s = now_s

    def metric_samples(self) -> list[MetricSample]:
        """Failed authentications by reason, and calls refused for them."""
        return [
            *(
                counter(
                    "tickstock_auth_failures",
                    "Calls refused UNAUTHENTICATED, by reason: missing (no credential), malformed (not "
                    "'Bearer <token>') or rejected (an unknown, revoked or expired key or token).",
                    count,
                    reason=reason,
                )
                for reason, count in self.failures_by_reason.items()
            ),
            counter(
                "tickstock_auth_throttled",
                "Calls refused RESOURCE_EXHAUSTED because their peer address failed too often.",
                self.throttled_total,
            ),
        ]

    def _peer(self, peer: str) -> _Peer:
        state = self._peers.get(peer)
        if state is None:
            state = _Peer(failures_left=float(self._burst), refilled_s=self._monotonic_s())
            self._peers[peer] = state
            if len(self._peers) > self._max_peers:
                self._peers.popitem(last=False)
        else:
            self._peers.move_to_end(peer)
        return state

    def _refill(self, state: _Peer) -> None:
        now_s = self._monotonic_s()
        elapsed_s = max(now_s - state.refilled_s, 0.0)
        state.failures_left = min(state.failures_left + elapsed_s * self._rate, float(self._burst))
        state.refilled_s = now_s


def peer_address(peer: str) -> str:
    """The address part of a gRPC peer ("ipv4:10.0.0.1:5000" -> "10.0.0.1", "ipv6:[::1]:5000" -> "::1").

    Other forms (unix sockets) are kept whole, cut to a bounded length.
    """
    kind, _, rest = peer.partition(":")
    rest = urllib.parse.unquote(rest)
    if kind == "ipv4":
        return rest.rpartition(":")[0] or rest
    if kind == "ipv6" and rest.startswith("["):
        return rest[1:].partition("]")[0]
    return peer[:_MAX_PEER_CHARS]
