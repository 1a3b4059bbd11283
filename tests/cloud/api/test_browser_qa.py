"""Capture QA on the operator dashboard in Chromium: a held take shows "retake suggested"
with its reasons; the operator accepts one (its fine-tune is queued) and sends another
back to dance; the booth's auto-accept switch sticks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import CaptureQa
from cloud.db.states import SessionState
from tests.cloud.api.conftest import Booth
from tests.cloud.api.test_browser import _csp_violations, browser, log_in, shots

__all__ = ["browser", "shots"]

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]
REASONS = [
    "covered 52% of the reference dance's poses (need 75%): dance along with the dancer",
    "feet were in frame in only 40% of frames (need 80%): step back, or aim the camera lower",
]


def _held(booth: Booth, sid: str, email: str) -> None:
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", sid, SessionState.UPLOADED)
        row.email, row.consent = email, True
        report = {"passed": False, "coverage": 0.52, "reasons": REASONS, "nodes": []}
        db.add(CaptureQa(session_id=sid, passed=False, coverage=0.52, report=report))


def test_the_operator_sees_the_suggestion_and_decides(
    browser: Any, server: str, booth: Booth, shots: Path
) -> None:
    from playwright.sync_api import expect

    _held(booth, "sacc", "ana@example.com")
    _held(booth, "sret", "bo@example.com")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked = _csp_violations(page)
    log_in(page, server)
    row = page.locator("tr[data-session=sacc]")
    expect(row.locator("[data-qa=retake]")).to_contain_text("retake suggested · coverage 52%")
    expect(row.locator("[data-qa=retake]")).to_contain_text("feet were in frame in only 40%")
    page.screenshot(path=str(shots / "dashboard-retake-suggested.png"))
    row.locator("button[data-act=qa-accept]").click()
    expect(row.locator(".state")).to_have_text("queued")
    expect(row.locator("[data-qa=accepted]")).to_contain_text("QA accepted")
    other = page.locator("tr[data-session=sret]")
    other.locator("button[data-act=qa-retake]").click()
    expect(other.locator(".state")).to_have_text("retake")
    assert booth.link.sent, "the nodes were told to drop the take"
    page.check("#qa-auto-accept")
    page.wait_for_timeout(300)
    page.reload()
    expect(page.locator("#qa-auto-accept")).to_be_checked()
    assert not blocked
