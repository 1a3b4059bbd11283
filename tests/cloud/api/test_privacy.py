"""The privacy page and the kiosk's consent text come from the settings, and only from them."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cloud.api.app import create_app
from tests.cloud.api.conftest import Booth

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _pages(booth: Booth) -> tuple[str, str]:
    app = create_app(booth.settings, engine=booth.engine, link=booth.link, storage=booth.storage)
    with TestClient(app) as c:
        return _text(c.get("/privacy").text), _text(c.get("/").text)


def test_the_page_states_every_store_and_the_kiosk_links_to_it(booth: Booth) -> None:
    page, kiosk = _pages(booth)
    for words in (
        "your recorded frames (video stills) and body keypoints",
        "30 days after your visit",
        "the camera computers at the booth",
        "1 hour, for resending lost frames",
        "the mail log",
        "until you delete your data or the operator erases the event",
        "Who can see it",
        "Delete my data",
        "content credentials",
    ):
        assert words in page, words
    assert "deleted within 30 days of my visit (from the booth's cameras within 1 hour)" in kiosk
    with TestClient(booth.app) as c:
        assert 'href="/privacy"' in c.get("/").text


def test_changing_a_retention_setting_changes_the_page_and_the_consent_text(booth: Booth) -> None:
    booth.settings.retention.captures_days = 7
    booth.settings.retention.models_days = 5
    booth.settings.retention.node_spool_s = 600
    booth.settings.delivery.link_ttl_days = 14
    page, kiosk = _pages(booth)
    assert "7 days after your visit" in page and "5 days after your visit" in page
    assert "10 minutes, for resending lost frames" in page
    assert "expires after 14 days" in page
    assert "deleted within 7 days of my visit (from the booth's cameras within 10 minutes)" in kiosk
    assert "my video 14 days after it is sent" in kiosk


def test_unsigned_delivery_is_said_on_the_page(booth: Booth) -> None:
    booth.settings.credentials.allow_unsigned = True
    page, kiosk = _pages(booth)
    assert "delivers videos unsigned" in page
    assert "content credentials" not in kiosk.split("What is kept")[0]
