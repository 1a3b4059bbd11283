"""Screenshots for docs/operator-guide.md from a running booth (e.g. ``dancebooth demo``).

Usage: python scripts/operator_guide_shots.py URL PASSWORD OUTDIR [--timeout S]

Logs in as the operator and waits for each moment of the demo's day (a capture, then a
first delivery while the next visitor's job runs), shooting the dashboard at each; then
the kiosk, and
the "delete everything" dialog opened with its plan but not confirmed. Images are
reduced to a 64-colour palette to stay small. Uses Debian's Chromium through Playwright.
"""

from __future__ import annotations

import argparse
import io
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]
logger = logging.getLogger("operator_guide_shots")


def save(png: bytes, out: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    logger.info("wrote %s (%d KB)", out, out.stat().st_size // 1024)


def visitors(page: Page) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = page.evaluate(
        "async () => (await fetch('/api/visitors', {credentials: 'same-origin'})).json()"
    )
    return result


def wait_for(page: Page, what: str, test: Callable[[dict[str, Any]], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(test(v) for v in visitors(page)):
            page.wait_for_timeout(1500)  # the dashboard's own refresh
            return True
        page.wait_for_timeout(500)
    logger.warning("no %s within %g s: shot skipped", what, timeout)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("password")
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--name", default="operator")
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base = args.url.rstrip("/")
    args.outdir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        page.goto(base + "/login")
        page.fill("#name", args.name)
        page.fill("#password", args.password)
        page.click("#login-button")
        page.wait_for_url("**/operator")
        if wait_for(page, "capture", lambda v: v["state"] == "capturing", args.timeout):
            save(page.screenshot(), args.outdir / "operator-capture.png")
        if wait_for(page, "delivery", lambda v: v["state"] == "delivered", args.timeout):
            card = page.query_selector(".queue-card")  # the queue alone: jobs and states
            if card is not None:
                save(card.screenshot(), args.outdir / "operator-queue.png")
        page.click("#erase-open")
        page.wait_for_selector("#erase-confirm:not([disabled])")
        page.fill("#erase-booth", "booth1")
        save(page.screenshot(), args.outdir / "operator-erase.png")
        kiosk = browser.new_page(viewport={"width": 800, "height": 760})
        kiosk.goto(base + "/")
        save(kiosk.screenshot(), args.outdir / "kiosk.png")
        browser.close()


if __name__ == "__main__":
    main()
