"""The live mirror's consent and lineup in Chromium: a visitor ticks the kiosk's optional
box; once delivered the operator sees them, dresses the mirror in their look ("dance as"),
adds another to the rotation, sees what the mirror reports (a refused model's reason
included) and goes back to the booth dancer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloud.db.engine import session_factory, transaction
from cloud.db.models import Booth as BoothRow
from cloud.db.models import Session, utcnow
from cloud.db.states import SessionState
from cloud.mirror.lineup import Lineup
from tests.cloud.api.conftest import Booth
from tests.cloud.api.test_browser import _csp_violations, browser, log_in, shots

__all__ = ["browser", "shots"]

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


def _register(page: Any, server: str, email: str, live: bool) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/")
    page.fill("#email", email)
    page.check("#consent")
    if live:
        page.check("#mirror-consent")
    page.click("#register-button")
    expect(page.locator("#confirmation")).to_be_visible()


def _deliver_all(booth: Booth) -> dict[str, str]:
    with transaction(session_factory(booth.engine)) as db:
        rows = db.query(Session).all()
        for row in rows:
            row.state, row.delivered_at = SessionState.DELIVERED, utcnow()
        return {str(r.email): r.id for r in rows}


def test_kiosk_consent_then_dance_as_rotate_and_back(
    browser: Any, server: str, booth: Booth, shots: Path
) -> None:
    from playwright.sync_api import expect

    kiosk = browser.new_page(viewport={"width": 1080, "height": 1400})
    blocked = _csp_violations(kiosk)
    _register(kiosk, server, "ana@example.com", live=True)
    _register(kiosk, server, "bo@example.com", live=False)
    kiosk.reload()
    _register(kiosk, server, "cy@example.com", live=True)
    ids = _deliver_all(booth)
    ana, bo, cy = ids["ana@example.com"], ids["bo@example.com"], ids["cy@example.com"]

    page = browser.new_page(viewport={"width": 1280, "height": 1400})
    blocked += _csp_violations(page)
    log_in(page, server)
    rows = page.locator("#mirror-body tr")
    expect(rows).to_have_count(2)  # bo did not tick the box
    expect(page.locator(f"tr[data-mirror-session={bo}]")).to_have_count(0)
    page.locator(f"tr[data-mirror-session={ana}] button[data-mirror=as]").click()
    expect(page.locator(f"tr[data-mirror-session={ana}]")).to_contain_text("on the mirror")
    page.locator(f"tr[data-mirror-session={cy}] button[data-mirror=add]").click()
    expect(page.locator(f"tr[data-mirror-session={cy}]")).to_contain_text("on the mirror")
    mirror = Lineup(session_factory(booth.engine), "booth1", "node1")
    assert [w.session_id for w in mirror.wanted()] == [ana, cy]

    # The running mirror reports: wearing ana, and a model it refused.
    mirror.report("pix2pix-128-abc", ana, f"{cy}.safetensors is a 256 px model")
    page.reload()
    expect(page.locator("#mirror-status")).to_contain_text("node1: wearing ana@example.com's model")
    expect(page.locator("#mirror-problem")).to_contain_text("256 px model")
    page.screenshot(path=str(shots / "dashboard-live-mirror.png"))

    page.click("#mirror-booth")
    expect(page.locator(f"tr[data-mirror-session={ana}]")).not_to_contain_text("on the mirror")
    assert mirror.wanted() == []
    with session_factory(booth.engine)() as db:
        row = db.get(BoothRow, "booth1")
        assert row is not None and row.mirror_wearers == []
    assert not blocked
