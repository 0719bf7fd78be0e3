"""What the browser tests share besides fixtures: the stack's addresses, a static site, signing in."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.async_api import Page

CHROMIUM = Path("/usr/bin/chromium")
# Without the networking flags Chromium keeps calling Google's hosts, which a closed network refuses.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Stack:
    """Addresses of one running stack and an API key for it."""

    envoy_url: str
    page_url: str
    foreign_page_url: str
    key: str


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def static_site(directory: Path) -> Iterator[str]:
    """Serve `directory` over HTTP on a free loopback port; yields its origin."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


async def sign_in(page: Page, stack: Stack, origin: str | None = None) -> None:
    """Open the dashboard and sign in with the stack's API key."""
    await sign_in_at(page, origin or stack.page_url, stack.envoy_url, stack.key)


async def sign_in_at(page: Page, origin: str, server: str, key: str) -> None:
    """Open the dashboard served at `origin`, pointed at the Envoy at `server`, and sign in with `key`."""
    await page.goto(f"{origin}/?server={server}")
    await page.get_by_label("API key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
