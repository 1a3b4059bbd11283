"""The operator dashboard's node cards in Chromium: a node's failures since it started
(pose-backend errors, quarantined frames) are shown, and stand out when not zero."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Node, utcnow
from protocol.messages import NodeStats
from tests.cloud.api.conftest import Booth
from tests.cloud.api.test_browser import browser, log_in  # noqa: F401 - browser: a fixture

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


def _node(node: str, stats: NodeStats) -> Node:
    now = utcnow()
    return Node(
        booth_id="booth1",
        id=node,
        state="online",
        backend="blazepose",
        stats=stats.model_dump(),  # what the uploader stores from a node's status
        status_at=now,
        seen_at=now,
    )


def test_node_failures_are_shown_and_stand_out(
    browser: object,  # noqa: F811
    server: str,
    booth: Booth,
    engine: Engine,
) -> None:
    from playwright.sync_api import expect

    with transaction(session_factory(engine)) as db:
        ensure_booth(db, "booth1")
        db.add(_node("cam-left", NodeStats(capture_fps=29.8, pose_failures=7, lost_frames=2)))
        db.add(_node("cam-right", NodeStats(capture_fps=30.0)))
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    log_in(page, server)
    failing = page.locator(".node", has_text="cam-left")
    expect(failing.locator("dd[data-stat=pose_failures]")).to_have_text("7")
    expect(failing.locator("dd[data-stat=pose_failures]")).to_have_class("fault")
    expect(failing.locator("dd[data-stat=lost_frames]")).to_have_text("2")
    expect(failing.locator("dd[data-stat=lost_frames]")).to_have_class("fault")
    expect(failing).to_contain_text("pose errors")
    healthy = page.locator(".node", has_text="cam-right")
    expect(healthy.locator("dd[data-stat=pose_failures]")).to_have_text("0")
    expect(healthy.locator("dd.fault")).to_have_count(0)
