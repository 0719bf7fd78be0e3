"""The dashboard in Debian's Chromium (driven by Playwright) against the real server and the real Envoy.

One stack per module: the server with its Envoy, the dashboard built from clients/web by npm, served
from an origin of its own (so every call crosses origins as in a deployment), and a second origin that
is not allowed. Chromium is never downloaded (`playwright install` is not used): the tests skip where
/usr/bin/chromium is missing, and CI installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from browser_stack import CHROMIUM, CHROMIUM_ARGS, Stack, static_site
from databases import fresh_database
from playwright.async_api import Browser, Page, async_playwright
from server_process import free_port, run_admin, server_env, serving, wait_listening

WEB = Path(__file__).resolve().parents[3] / "clients" / "web"
_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"Chromium is not installed at {CHROMIUM} (CI installs Debian's chromium)")
    for item in items:
        if item.path.is_relative_to(_HERE):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def dashboard_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard built from the current sources (npm ci when its packages are missing), copied
    out of clients/web/dist so that a rebuild during the session cannot pull files from under it."""
    npm = shutil.which("npm")
    assert npm is not None, "the browser tests need Node.js and npm to build the dashboard"
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "--silent", "build"], cwd=WEB, check=True)
    return Path(shutil.copytree(WEB / "dist", tmp_path_factory.mktemp("dashboard") / "dist"))


@pytest.fixture(scope="session")
def page_origin(dashboard_dir: Path) -> Iterator[str]:
    """An origin serving the dashboard that the servers' Envoy allows."""
    with static_site(dashboard_dir) as origin:
        yield origin


@pytest.fixture(scope="session")
def foreign_origin(dashboard_dir: Path) -> Iterator[str]:
    """An origin serving the dashboard that no Envoy allows."""
    with static_site(dashboard_dir) as origin:
        yield origin


@pytest.fixture(scope="module")
async def stack(
    dashboard_dir: Path,
    page_origin: str,
    foreign_origin: str,
    postgres_url: str,
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    """The server with Envoy, the dashboard on an allowed origin and on a disallowed one."""
    port, web_port = free_port(), free_port()
    async with fresh_database(postgres_url) as database_url:
        env = server_env(
            port,
            TICKSTOCK_DATA_DIR=str(tmp_path_factory.mktemp("browser-stack")),
            TICKSTOCK_DATABASE_URL=database_url,
            TICKSTOCK_REDIS_URL=redis_url,
            TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"test:{port}:events:",
            TICKSTOCK_PATTERNS__KEY_PREFIX=f"test:{port}:patterns:",
            TICKSTOCK_PATTERNS__SIMULATOR="on",
            TICKSTOCK_WEB__ENABLED="true",
            TICKSTOCK_WEB__PORT=str(web_port),
            TICKSTOCK_WEB__STATIC_DIR=str(dashboard_dir),
            TICKSTOCK_WEB__ALLOWED_ORIGINS=page_origin,
        )
        async with serving(env, port):
            await wait_listening(web_port)
            key = await run_admin("create-key", "--user", "browser", env=env)
            yield Stack(
                envoy_url=f"http://127.0.0.1:{web_port}",
                page_url=page_origin,
                foreign_page_url=foreign_origin,
                key=key,
            )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, started without LD_PRELOAD (the clock-pinned runs preload
    libfaketime into Python; Chromium and Playwright's driver are not meant to run under it)."""
    preload = os.environ.pop("LD_PRELOAD", None)
    try:
        playwright = await async_playwright().start()
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    finally:
        if preload is not None:
            os.environ["LD_PRELOAD"] = preload
    try:
        yield chromium
    finally:
        await chromium.close()
        await playwright.stop()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (its own sessionStorage) and page; page errors fail the test."""
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
    finally:
        await context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
