"""What a careful StreamEvents client keeps across reconnects: events, resume token, what it was told."""

from __future__ import annotations

from typing import Any


class ResumingClient:
    """Takes every message of its streams; `token` is where the next stream resumes."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.seqs: list[int] = []
        self.token: tuple[str, int] | None = None
        self.first: tuple[str, int] | None = None
        """The position of the first stream's start: what `seqs` must cover from."""
        self.gaps: list[Any] = []
        self.rotations: list[int] = []

    def take(self, response: Any) -> str:
        """Record one message; return its kind."""
        kind = str(response.WhichOneof("payload"))
        if kind == "subscription_status" and self.first is None:
            start = response.subscription_status.start
            self.first = self.token = (start.epoch, start.seq)
        elif kind == "event_batch":
            self.events += response.event_batch.events
            self.seqs += [event.seq for event in response.event_batch.events]
            self._set(response.event_batch.resume_token)
        elif kind == "replay_completed":
            self._set(response.replay_completed.resume_token)
        elif kind == "heartbeat" and self.token is not None:
            self.token = (self.token[0], response.heartbeat.last_seq)
        elif kind == "rotate_hint":
            self.rotations.append(response.rotate_hint.reason)
            self._set(response.rotate_hint.resume_token)
        elif kind == "gap_notice":
            self.gaps.append(response.gap_notice)
        return kind

    def _set(self, token: Any) -> None:
        self.token = (token.epoch, token.seq)
