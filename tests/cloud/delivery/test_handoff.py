"""The link and its email: where the link points, when it expires, how to delete the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.delivery.handoff import LinkPolicy, Visitor, link_email, rendition_link
from cloud.delivery.message import compose
from cloud.delivery.tokens import check_token, issue_token

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POLICY = LinkPolicy(public_url="https://booth.example/", ttl=timedelta(days=30))
VISITOR = Visitor("s-9", "ada@example.org", "Ada")


def test_the_email_carries_a_working_link_and_the_delete_button() -> None:
    token = issue_token(POLICY.ttl, now=NOW)
    email = link_email(VISITOR, "salsa", POLICY, token, kind="resend-1")
    assert email.link == rendition_link("https://booth.example", token.token)
    assert email.link.startswith("https://booth.example/r/") and "//r" not in email.link
    assert email.delete_link == f"{email.link}#delete"
    assert email.privacy_link == "https://booth.example/privacy"
    assert email.expires_at == NOW + timedelta(days=30)
    check_token(email.link.rsplit("/", 1)[1], token.digest, email.expires_at, now=NOW)
    msg = compose(email, "booth@booth.example")
    assert msg["X-Dancebooth-Session"] == "s-9" and msg["X-Dancebooth-Kind"] == "resend-1"
    assert email.link in msg.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
