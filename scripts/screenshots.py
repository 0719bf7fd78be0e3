"""Take the README's dashboard screenshots from a running server: live events, a chart, the scan.

    KEY=$(.venv/bin/tickstock-server create-key --user demo)
    TICKSTOCK_API_KEY=$KEY .venv/bin/python scripts/screenshots.py [--server http://127.0.0.1:8080]

The key is read from the environment, not the command line, so it stays out of shell history and `ps`.
Uses Debian's Chromium (/usr/bin/chromium) through Playwright; writes docs/screenshots/*.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


def main() -> int:
    """Sign in, open each view, save its picture; return the exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="http://127.0.0.1:8080", help="the dashboard's address (Envoy)")
    parser.add_argument("--symbol", default="AAPL", help="the charted symbol (default AAPL)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    key = os.environ.get("TICKSTOCK_API_KEY")
    if not key:
        print("screenshots.py: set TICKSTOCK_API_KEY to an API key", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 860})
        page.goto(args.server)
        page.get_by_label("API key").fill(key)
        page.get_by_role("button", name="Sign in").click()
        page.locator("#events tbody tr").nth(30).wait_for(timeout=15_000)
        page.wait_for_timeout(3_000)
        page.screenshot(path=args.out / "live-events.png")

        page.get_by_role("tab", name="Chart").click()
        page.locator('#chart-form input[name="symbol"]').fill(args.symbol)
        page.get_by_role("button", name="Show").click()
        page.locator("#chart-status[data-bars]").wait_for(timeout=15_000)
        page.wait_for_timeout(1_000)
        page.screenshot(path=args.out / "chart.png")

        page.get_by_role("tab", name="Patterns").click()
        page.get_by_role("button", name="Scan").click()
        page.locator("#scan-status[data-page]").wait_for(timeout=15_000)
        page.screenshot(path=args.out / "patterns.png")
        browser.close()
    print(f"wrote {', '.join(p.name for p in sorted(args.out.glob('*.png')))} to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
