"""Screenshot the operator dashboard of a running booth (e.g. ``dancebooth demo``).

Usage: python scripts/dashboard_screenshot.py URL PASSWORD OUT.png [--wait S]
Uses Debian's Chromium (apt-get install chromium) through Playwright.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("password")
    parser.add_argument("out", type=Path)
    parser.add_argument("--name", default="operator")
    parser.add_argument("--wait", type=float, default=3.0, help="seconds for live data")
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(args.url.rstrip("/") + "/operator")
        page.fill("#name", args.name)
        page.fill("#password", args.password)
        page.click("#login-button")
        page.wait_for_url("**/operator")
        page.wait_for_timeout(args.wait * 1000)
        page.screenshot(path=str(args.out))
        browser.close()


if __name__ == "__main__":
    main()
