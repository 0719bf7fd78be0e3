"""The page's live stream survives the gRPC server being killed and restarted behind Envoy: it resumes
with its token, and holds every event of the server's log once, in order."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
from browser_stack import sign_in_at
from databases import fresh_database
from playwright.async_api import Page, expect
from server_process import free_port, run_admin, server_env, serving, wait_listening

from tickstock.v1 import event_service_pb2, event_service_pb2_grpc

STEP_MS = 20_000


@asynccontextmanager
async def envoy_front(
    grpc_port: int, web_port: int, origin: str, static_dir: Path, workdir: Path
) -> AsyncIterator[None]:
    """`tickstock-envoy` on its own, so the gRPC server behind it can die and come back."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tickstock_server.edge", "--upstream", f"127.0.0.1:{grpc_port}",
        "--port", str(web_port), "--admin-port", str(free_port()), "--origin", origin,
        "--static-dir", str(static_dir), "--dir", str(workdir),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await wait_listening(web_port)
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)


async def server_log(grpc_port: int, key: str, epoch: str, after: int, until: int) -> tuple[list[int], int]:
    """The seqs the server's log holds in (after, until], read by resuming a stream from `after`, and
    the number of gap notices it sent on the way."""
    seqs: list[int] = []
    gaps = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        stub = event_service_pb2_grpc.EventServiceStub(channel)
        request = event_service_pb2.StreamEventsRequest(
            resume_token=event_service_pb2.ResumeToken(epoch=epoch, seq=after)
        )
        call = stub.StreamEvents(request, metadata=[("authorization", f"Bearer {key}")], timeout=60)
        async for response in call:
            kind = response.WhichOneof("payload")
            gaps += kind == "gap_notice"
            if kind == "event_batch":
                seqs.extend(event.seq for event in response.event_batch.events)
                if seqs[-1] >= until:
                    call.cancel()
                    break
    return [seq for seq in seqs if seq <= until], gaps


async def received(page: Page) -> list[tuple[str, int]]:
    pairs = await page.evaluate("() => window.tickstock.received()")
    return [(epoch, int(seq)) for epoch, seq in pairs]


async def test_the_page_resumes_after_the_server_is_killed_with_no_missing_or_repeated_event(
    page: Page, dashboard_dir: Path, postgres_url: str, redis_url: str, tmp_path: Path, page_origin: str
) -> None:
    port, web_port = free_port(), free_port()
    async with fresh_database(postgres_url) as database_url:
        env = server_env(
            port,
            TICKSTOCK_DATA_DIR=str(tmp_path / "data"),
            TICKSTOCK_DATABASE_URL=database_url,
            TICKSTOCK_REDIS_URL=redis_url,
            TICKSTOCK_DELIVERY__STREAM_KEY_PREFIX=f"test:{port}:events:",
            TICKSTOCK_PATTERNS__KEY_PREFIX=f"test:{port}:patterns:",
            # Ticks on the wall clock: a restarted server continues its epoch instead of starting
            # the synthetic session's history again.
            TICKSTOCK_FEED__SESSION_CLOCK="false",
            TICKSTOCK_FEED__SYMBOLS="400",
        )
        async with envoy_front(port, web_port, page_origin, dashboard_dir, tmp_path / "envoy"):
            async with serving(env, port) as server:
                key = await run_admin("create-key", "--user", "resume", env=env)
                await sign_in_at(page, page_origin, f"http://127.0.0.1:{web_port}", key)
                await page.wait_for_function(
                    "() => window.tickstock?.received().length >= 100", timeout=STEP_MS
                )
                server.send_signal(signal.SIGKILL)
                await server.wait()
            await expect(page.locator('[data-health="state"]')).to_have_text("resuming", timeout=STEP_MS)
            before = len(await received(page))

            async with serving(env, port):
                await expect(page.locator('[data-health="state"]')).to_have_text("live", timeout=STEP_MS)
                await page.wait_for_function(
                    f"() => window.tickstock.received().length >= {before + 100}", timeout=STEP_MS
                )
                pairs = await received(page)
                epochs = {epoch for epoch, _ in pairs}
                assert len(epochs) == 1, epochs
                (epoch,) = epochs
                seqs = [seq for _, seq in pairs]
                log, log_gaps = await server_log(port, key, epoch, seqs[0] - 1, seqs[-1])
                page_gaps = await page.locator('#notices li[data-kind="gap"]').count()

    assert all(a < b for a, b in zip(seqs, seqs[1:], strict=False)), "a seq repeated or went backwards"
    assert set(log) <= set(seqs), f"missing on the page: {sorted(set(log) - set(seqs))[:20]}"
    # Only events the killed server had sent but not yet stored can be on the page and not in the log.
    assert len(set(seqs) - set(log)) < 100
    # What the log cannot replay (events the killed server had not stored) is reported, never silent.
    assert (page_gaps > 0) == (log_gaps > 0)
    assert int(await page.locator('[data-health="reconnects"]').inner_text()) >= 1
    assert await page.locator('#notices li[data-kind="replay"]').count() >= 1
