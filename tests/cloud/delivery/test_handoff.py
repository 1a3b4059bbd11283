"""Hand-off: gate, token, email — through the outbox mailer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from cloud.delivery.handoff import LinkPolicy, Visitor, hand_off
from cloud.delivery.mailer import OutboxMailer
from cloud.delivery.tokens import check_token
from cloud.render.quality import QualityGate

NOW = datetime(2026, 6, 1, tzinfo=UTC)
GATE = QualityGate(min_held_out_ssim=0.5, max_flicker=5.0)
POLICY = LinkPolicy(public_url="https://booth.example/", ttl=timedelta(days=30))
VISITOR = Visitor("s-9", "ada@example.org", "Ada")


def test_a_good_rendition_is_emailed_with_a_working_link(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, "booth@booth.example")
    out = hand_off(
        VISITOR,
        "salsa",
        held_out_ssim=0.7,
        flicker=1.0,
        gate=GATE,
        mailer=mailer,
        policy=POLICY,
        now=NOW,
    )
    assert out.status == "emailed" and out.sent is not None
    token = out.sent.token
    assert token.expires_at == NOW + timedelta(days=30)
    eml = message_from_bytes(Path(out.sent.mail.detail).read_bytes(), policy=policy.default)
    parts = [eml.get_body((kind,)) for kind in ("plain", "html")]
    body = "".join(p.get_content() for p in parts if p is not None)
    link = f"https://booth.example/r/{token.token}"
    assert link in body and f"{link}#delete" in body
    # What the database keeps (digest, expiry) opens exactly the emailed link.
    check_token(token.token, token.digest, token.expires_at, now=NOW)
    assert token.digest not in body


def test_a_poor_rendition_waits_for_review_and_sends_nothing(tmp_path: Path) -> None:
    mailer = OutboxMailer(tmp_path, "booth@booth.example")
    out = hand_off(
        VISITOR,
        "salsa",
        held_out_ssim=0.2,
        flicker=9.0,
        gate=GATE,
        mailer=mailer,
        policy=POLICY,
        now=NOW,
    )
    assert out.status == "needs_review" and out.sent is None
    assert len(out.decision.reasons) == 2
    assert list(tmp_path.glob("*.eml")) == []
