"""The rendition page reads the content credentials back from the stored video."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cloud.render.inputs import rendition_key
from tests.cloud.api.conftest import Booth
from tests.cloud.api.test_renditions import _delivered
from tests.cloud.render.test_credentials import rendition  # noqa: F401 - a fixture

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_the_page_says_signed_by_the_booth_and_ai_generated(
    client: TestClient,
    booth: Booth,
    rendition: tuple[Path, Path],  # noqa: F811
) -> None:
    token = _delivered(booth)
    booth.storage.put(rendition_key("sdone", "wave-party"), rendition[1].read_bytes(), "video/mp4")
    page = client.get(f"/r/{token}").text
    assert "Content credentials: signed by booth1, AI-generated." in page
    assert 'href="/privacy#marking"' in page


def test_a_re_encoded_or_tampered_file_is_shown_as_such(
    client: TestClient,
    booth: Booth,
    rendition: tuple[Path, Path],  # noqa: F811
) -> None:
    token = _delivered(booth)
    key = rendition_key("sdone", "wave-party")
    booth.storage.put(key, rendition[0].read_bytes(), "video/mp4")  # never signed / re-encoded
    assert "Content credentials: none" in client.get(f"/r/{token}").text
    data = bytearray(rendition[1].read_bytes())
    data[data.find(b"mdat") + 64] ^= 0xFF
    booth.storage.put(key, bytes(data), "video/mp4")
    assert "Content credentials: invalid" in client.get(f"/r/{token}").text


def test_unsigned_delivery_allowed_by_the_settings_says_unsigned(
    client: TestClient,
    booth: Booth,
    rendition: tuple[Path, Path],  # noqa: F811
) -> None:
    booth.settings.credentials.allow_unsigned = True
    token = _delivered(booth)
    booth.storage.put(rendition_key("sdone", "wave-party"), rendition[0].read_bytes(), "video/mp4")
    assert "Content credentials: unsigned." in client.get(f"/r/{token}").text
