"""The rendition email's content and identity."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from cloud.delivery.errors import MailError
from cloud.delivery.message import RenditionEmail, compose

EMAIL = RenditionEmail(
    session_id="s-0042",
    to="ada@example.org",
    link="https://booth.example/r/AbC_tok-123456789012345678901234",
    expires_at=datetime(2026, 12, 24, 18, 30, tzinfo=UTC),
    dance="Salsa <basic>",
    delete_link="https://booth.example/r/AbC_tok-123456789012345678901234#delete",
    name="Ada",
    contact="privacy@booth.example",
)


def _parts(email: RenditionEmail) -> tuple[str, str]:
    msg = compose(email, "dancebooth <booth@booth.example>")
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_both_parts_carry_link_expiry_and_how_to_delete() -> None:
    text, html = _parts(EMAIL)
    for part in (text, html):
        assert EMAIL.link in part
        assert "Thursday 24 December 2026, 18:30" in part
        assert "Delete my data" in part and EMAIL.delete_link in part
        assert "AI-generated" in part
        assert "privacy@booth.example" in part
    assert 'performing "Salsa <basic>"' in text
    assert "Salsa &lt;basic&gt;" in html  # escaped in HTML, not in text


def test_both_parts_link_the_privacy_page() -> None:
    email = replace(EMAIL, privacy_link="https://booth.example/privacy")
    for part in _parts(email):
        assert "https://booth.example/privacy" in part and "who sees it" in part
    assert all("/privacy" not in part for part in _parts(EMAIL))


def test_headers_and_stable_message_id() -> None:
    msg = compose(EMAIL, "dancebooth <booth@booth.example>")
    assert msg["To"] == "Ada <ada@example.org>"
    assert msg["Subject"] == "Your dance video is ready, Ada"
    assert msg["Message-ID"] == f"<{EMAIL.key}@dancebooth>"
    again = compose(EMAIL, "dancebooth <booth@booth.example>")
    assert again["Message-ID"] == msg["Message-ID"]
    assert replace(EMAIL, kind="rendition-resend-1").key != EMAIL.key
    assert replace(EMAIL, session_id="s-0043").key != EMAIL.key


@pytest.mark.parametrize("to", ["", "not-an-address", "a@b\r\nBcc: x@y.z", "@example.org"])
def test_bad_recipients_are_refused(to: str) -> None:
    with pytest.raises(MailError, match="not an email address"):
        compose(replace(EMAIL, to=to), "booth@booth.example")


def test_naive_expiry_is_refused() -> None:
    with pytest.raises(MailError, match="timezone"):
        compose(replace(EMAIL, expires_at=datetime(2026, 1, 1)), "booth@booth.example")
