"""The kiosk's consent text states the deployment's own capture length and retention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cloud.api import create_app
from cloud.api.link import LocalBoothLink
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from tests.cloud.api.conftest import Booth

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _consent(page: str) -> str:
    match = re.search(r'<label for="consent">(.*?)</label>', page, re.S)
    assert match is not None
    return " ".join(match.group(1).split())


def test_consent_follows_the_settings(booth: Booth, engine: Engine, tmp_path: Path) -> None:
    with TestClient(booth.app) as client:
        text = _consent(client.get("/").text)
    assert "about 3 seconds of video" in text  # the fixture's api.capture_s
    assert "within 30 days of my visit" in text and "video 30 days after it is sent" in text
    settings = CloudSettings(
        database=booth.settings.database,
        mail=booth.settings.mail,
        api={**booth.settings.api.model_dump(), "capture_s": 12},
        retention={"captures_days": 7, "models_days": 10, "rendition_grace_days": 1},
        delivery={"link_ttl_days": 14},
    )
    app = create_app(settings, engine=engine, link=LocalBoothLink(), storage=LocalStorage(tmp_path))
    with TestClient(app) as client:
        page = client.get("/").text
    text = _consent(page)
    assert "Dance for about 12 seconds" in page and "about 12 seconds of video" in text
    assert "within 10 days of my visit" in text and "video 15 days after it is sent" in text
    assert "15 seconds" not in text and "30 days" not in text
