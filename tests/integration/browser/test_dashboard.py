"""What a user does in the dashboard, in Chromium, through Envoy's grpc-web, against the real server."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from browser_stack import Stack, sign_in
from playwright.async_api import Page, expect

# Events appear within 5 s of signing in; the other waits allow for a loaded 2-core machine.
LIVE_EVENTS_WITHIN_MS = 5_000
STEP_MS = 15_000


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: TICKSTOCK_SCREENSHOTS_DIR (docs/screenshots refreshes the README's), else
    the test's temporary directory."""
    return Path(os.environ.get("TICKSTOCK_SCREENSHOTS_DIR") or tmp_path)


async def test_sign_in_keeps_a_session_token_and_never_the_key(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)

    await expect(page.locator("#user")).to_have_text("browser", timeout=STEP_MS)
    stored = await page.evaluate("() => JSON.stringify(Object.entries(sessionStorage))")
    local = await page.evaluate("() => JSON.stringify(Object.entries(localStorage))")
    assert stack.key not in stored
    assert json.loads(local) == []
    session = json.loads(json.loads(stored)[0][1])
    assert session["token"].startswith("tss_")
    assert stack.key not in page.url


async def test_live_events_appear_within_5_s_and_the_health_panel_shows_the_stream(
    page: Page, stack: Stack, tmp_path: Path
) -> None:
    await sign_in(page, stack)

    await expect(page.locator("#events tbody tr").first).to_be_visible(timeout=LIVE_EVENTS_WITHIN_MS)
    await expect(page.locator('[data-health="state"]')).to_have_text("live")
    await expect(page.locator('[data-health="last_seq"]')).not_to_have_text("-")
    assert await page.locator('[data-health="out_of_order"]').inner_text() == "0"
    await page.wait_for_timeout(2_000)  # a fuller table for the picture
    await page.screenshot(path=screenshot_dir(tmp_path) / "live-events.png")


async def test_a_filter_change_resubscribes_with_the_new_filter(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    await page.wait_for_function(
        """() => {
          const rows = [...document.querySelectorAll("#events tbody tr")];
          return new Set(rows.map((row) => row.dataset.type)).size > 1;
        }""",
        timeout=STEP_MS,
    )

    await page.locator("#filter-form").get_by_label("Low").check()
    await page.get_by_role("button", name="Apply").click()
    # The table restarts with the new subscription: soon every row is a low.
    await page.wait_for_function(
        """() => {
          const rows = [...document.querySelectorAll("#events tbody tr")];
          return rows.length >= 5 && rows.every((row) => row.dataset.type === "low");
        }""",
        timeout=STEP_MS,
    )


async def test_a_bad_filter_is_shown_next_to_the_field_it_names(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    await expect(page.locator("#user")).to_have_text("browser", timeout=STEP_MS)

    symbols = page.locator('#filter-form input[name="symbols"]')
    await symbols.fill("!!bad")
    await page.get_by_role("button", name="Apply").click()

    await expect(symbols).to_have_attribute("aria-invalid", "true", timeout=STEP_MS)
    note = page.locator("#filter-form label:has(input[name='symbols']) .field-error")
    await expect(note).to_contain_text("not a ticker symbol")


async def test_bars_render_in_the_chart(page: Page, stack: Stack, tmp_path: Path) -> None:
    await sign_in(page, stack)
    first_row = page.locator("#events tbody tr").first
    await expect(first_row).to_be_visible(timeout=LIVE_EVENTS_WITHIN_MS)
    symbol = await first_row.get_attribute("data-symbol")
    assert symbol

    await page.get_by_role("tab", name="Chart").click()
    await page.locator('#chart-form input[name="symbol"]').fill(symbol)
    await page.get_by_role("button", name="Show").click()

    status = page.locator("#chart-status")
    await expect(status).to_contain_text(f"{symbol}: ", timeout=STEP_MS)
    assert int(await status.get_attribute("data-bars") or 0) >= 1
    assert await page.locator("#chart canvas").count() > 0
    await page.screenshot(path=screenshot_dir(tmp_path) / "chart.png")


async def test_a_pattern_scan_pages_forward_and_back(page: Page, stack: Stack, tmp_path: Path) -> None:
    await sign_in(page, stack)
    await page.get_by_role("tab", name="Patterns").click()
    await page.locator('#scan-form input[name="page_size"]').fill("5")

    status = page.locator("#scan-status")
    # The simulated producer publishes within seconds of start: scan until two pages exist.
    for _ in range(20):
        await page.get_by_role("button", name="Scan").click()
        await expect(status).to_have_attribute("data-page", "1", timeout=STEP_MS)
        if await page.get_by_role("button", name="Next page").is_enabled():
            break
        await page.wait_for_timeout(1_000)
    first_page = await page.locator("#patterns tbody tr").all_inner_texts()
    assert len(first_page) == 5

    await page.get_by_role("button", name="Next page").click()
    await expect(status).to_have_attribute("data-page", "2", timeout=STEP_MS)
    second_page = await page.locator("#patterns tbody tr").all_inner_texts()
    assert second_page
    assert not set(second_page) & set(first_page)

    await page.get_by_role("button", name="Previous page").click()
    await expect(status).to_have_attribute("data-page", "1", timeout=STEP_MS)
    await page.screenshot(path=screenshot_dir(tmp_path) / "patterns.png")


async def test_a_watchlist_round_trips_and_becomes_a_filter(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    await page.get_by_role("tab", name="Watchlists").click()
    form = page.locator("#watchlist-form")

    await form.get_by_label("Name").fill("Chips")
    await form.get_by_label("Symbols").fill("nvda, amd")
    await page.get_by_role("button", name="Save watchlist").click()
    row = page.locator("#watchlists tbody tr", has_text="Chips")
    await expect(row).to_contain_text("NVDA, AMD", timeout=STEP_MS)
    await expect(page.locator('#filter-form select[name="watchlist_ids"] option')).to_have_text(["Chips"])

    await page.get_by_role("button", name="Edit Chips").click()
    await form.get_by_label("Name").fill("Semis")
    await form.get_by_label("Symbols").fill("NVDA, AMD, TSM")
    await page.get_by_role("button", name="Save watchlist").click()
    renamed = page.locator("#watchlists tbody tr", has_text="Semis")
    await expect(renamed).to_contain_text("NVDA, AMD, TSM", timeout=STEP_MS)
    await expect(page.locator("#watchlists tbody tr", has_text="Chips")).to_have_count(0)

    await page.get_by_role("button", name="Delete Semis").click()
    await expect(page.locator("#watchlists tbody tr")).to_have_count(0, timeout=STEP_MS)
    await expect(page.locator('#filter-form select[name="watchlist_ids"] option')).to_have_count(0)


async def test_a_page_from_a_disallowed_origin_is_refused(page: Page, stack: Stack) -> None:
    await sign_in(page, stack, origin=stack.foreign_page_url)

    await expect(page.locator("#sign-in-form .error")).not_to_be_empty(timeout=STEP_MS)
    assert await page.locator("#app").is_hidden()
    assert await page.evaluate("() => sessionStorage.length") == 0


async def test_an_expired_session_asks_to_sign_in_again(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    await expect(page.locator("#user")).to_have_text("browser", timeout=STEP_MS)

    await page.evaluate(
        """() => {
          const s = JSON.parse(sessionStorage.getItem("tickstock.session"));
          s.expiresMs = Date.now() - 1000;
          sessionStorage.setItem("tickstock.session", JSON.stringify(s));
        }"""
    )
    await page.reload()

    await expect(page.locator("#sign-in-form .error")).to_contain_text("expired", timeout=STEP_MS)
    assert await page.locator("#app").is_hidden()


async def test_a_token_the_server_refuses_leads_to_the_sign_in_form(page: Page, stack: Stack) -> None:
    await sign_in(page, stack)
    await expect(page.locator("#user")).to_have_text("browser", timeout=STEP_MS)

    # A token this server never signed, still unexpired by the page's clock.
    await page.evaluate(
        """() => {
          const s = JSON.parse(sessionStorage.getItem("tickstock.session"));
          s.token = "tss_" + "A".repeat(60);
          sessionStorage.setItem("tickstock.session", JSON.stringify(s));
        }"""
    )
    await page.reload()

    await expect(page.locator("#sign-in-form .error")).to_contain_text("Sign in again", timeout=STEP_MS)
    assert await page.locator("#app").is_hidden()
    assert await page.evaluate("() => sessionStorage.length") == 0


@pytest.mark.parametrize("tab", ["Alerts", "Backtests"])
async def test_the_alert_and_backtest_views_load_without_errors(page: Page, stack: Stack, tab: str) -> None:
    await sign_in(page, stack)
    await page.get_by_role("tab", name=tab).click()

    await expect(page.get_by_role("tabpanel")).to_be_visible(timeout=STEP_MS)
    assert await page.locator(".error:not(:empty)").count() == 0
