"""A local fake Massive WebSocket server speaking the real handshake.

1. The client connects to /<market>; the server sends a "connected" status.
2. The client sends {"action":"auth","params":<key>}; the server answers "auth_success", or
   "auth_failed" and closes.
3. The client sends {"action":"subscribe","params":"A.*,T.AAPL"}; the server confirms each topic.
4. The server plays the connection's `Session` script, then stays open until the client closes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Action = Callable[[ServerConnection], Awaitable[None]]
"""One step of a script: send a frame, or end the connection."""


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def status(value: str, message: str) -> str:
    return dumps([{"ev": "status", "status": value, "message": message}])


def send(*frames: str) -> Action:
    """Send each frame as one text message."""

    async def action(ws: ServerConnection) -> None:
        for text in frames:
            await ws.send(text)

    return action


def drop(code: int = 1011) -> Action:
    """Close with an error code: the client sees ConnectionClosedError."""

    async def action(ws: ServerConnection) -> None:
        await ws.close(code, "test drop")

    return action


def close_normally() -> Action:
    """Close with 1000: the massive client's connect() returns."""

    async def action(ws: ServerConnection) -> None:
        await ws.close(1000, "bye")

    return action


def abort() -> Action:
    """Cut the TCP connection without a close frame."""

    async def action(ws: ServerConnection) -> None:
        ws.transport.abort()

    return action


@dataclass
class Session:
    """What the server does on one connection, after the handshake."""

    actions: Sequence[Action] = ()
    drop_on_subscribe: bool = False
    """Close with 1011 on the subscribe message, before confirming it (a connection that never works)."""


@dataclass
class Connection:
    """What the server saw on one connection."""

    path: str
    auth_params: list[str] = field(default_factory=list)
    subscribe_params: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def topics(self) -> set[str]:
        """Every topic subscribed to (the client joins them in set order, so compare as a set)."""
        return {topic for params in self.subscribe_params for topic in params.split(",")}


class FakeMassiveServer:
    """Serve on 127.0.0.1, a free port; connection i plays `sessions[i]` (later ones just stay open)."""

    def __init__(self, sessions: Sequence[Session] = (), *, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self.sessions = list(sessions)
        self.connections: list[Connection] = []
        self._server: Server | None = None

    @property
    def host(self) -> str:
        """The "host:port" to give the client."""
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def __aenter__(self) -> FakeMassiveServer:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        connection = Connection(path=ws.request.path if ws.request else "")
        index = len(self.connections)
        self.connections.append(connection)
        session = self.sessions[index] if index < len(self.sessions) else Session()
        try:
            await self._play(ws, connection, session)
            await ws.wait_closed()
        except ConnectionClosed:
            pass
        finally:
            connection.closed.set()

    async def _play(self, ws: ServerConnection, connection: Connection, session: Session) -> None:
        await ws.send(status("connected", "Connected Successfully"))
        auth = json.loads(await ws.recv())
        connection.auth_params.append(auth["params"])
        if auth != {"action": "auth", "params": self.api_key}:
            await ws.send(status("auth_failed", "authentication failed"))
            await ws.close(1008, "authentication failed")
            return
        await ws.send(status("auth_success", "authenticated"))
        subscribe = json.loads(await ws.recv())
        assert subscribe["action"] == "subscribe"
        connection.subscribe_params.append(subscribe["params"])
        if session.drop_on_subscribe:
            await ws.close(1011, "internal error")
            return
        topics = sorted(subscribe["params"].split(","))
        await ws.send(
            dumps([{"ev": "status", "status": "success", "message": f"subscribed to: {t}"} for t in topics])
        )
        for action in session.actions:
            await action(ws)
