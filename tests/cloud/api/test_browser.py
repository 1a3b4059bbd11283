"""The booth UI in Chromium (Playwright): kiosk → login → capture → states, at 1280 and 768 px.

The edge nodes and the uploader are not running here, so the test plays their part
through the database and the queue. Screenshots go to ``$DANCEBOOTH_SCREENSHOTS``
(or the test's tmp dir).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import Engine

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_booth, ensure_session, transition
from cloud.db.models import Manifest, Node, Rendition, utcnow
from cloud.db.states import SessionState
from cloud.delivery.handoff import link_policy
from cloud.delivery.outbox import RetryPolicy, attempt, record
from cloud.jobs.queue import JobQueue
from tests.cloud.api.conftest import PASSWORD, Booth
from tests.services import missing

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        missing("Chromium", "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("DANCEBOOTH_SCREENSHOTS", tmp_path / "screenshots"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _preview_jpeg(phase: float) -> bytes:
    """A stick figure on a dark stage, like an edge node's skeleton overlay."""
    img = Image.new("RGB", (320, 240), (34, 36, 52))
    d = ImageDraw.Draw(img)
    x = 160 + int(30 * phase)
    d.ellipse((x - 12, 40, x + 12, 64), outline=(255, 210, 80), width=3)
    for a, b in [
        ((x, 64), (x, 140)),
        ((x, 85), (x - 40, 60)),
        ((x, 85), (x + 45, 110)),
        ((x, 140), (x - 30, 200)),
        ((x, 140), (x + 30, 200)),
    ]:
        d.line((a, b), fill=(80, 220, 160), width=4)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def _nodes(booth: Booth) -> None:
    with transaction(session_factory(booth.engine)) as db:
        ensure_booth(db, "booth1")
        stats = {
            "capture_fps": 29.8,
            "pose_fps": 29.5,
            "inference_ms": 21.4,
            "dropped_frames": 3,
            "spool_depth": 12,
            "people_seen": 1,
        }
        db.add(
            Node(
                booth_id="booth1",
                id="cam-left",
                state="online",
                backend="blazepose",
                stats=stats,
                status_at=utcnow(),
                seen_at=utcnow(),
            )
        )
        db.add(
            Node(
                booth_id="booth1",
                id="cam-right",
                state="offline",
                backend="movenet",
                stats={},
                status_at=None,
                seen_at=None,
            )
        )
    booth.link.put_preview("cam-left", _preview_jpeg(0.3))


def _no_horizontal_scroll(page: object) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    viewport = page.viewport_size["width"]  # type: ignore[attr-defined]
    assert width <= viewport, f"layout is {width}px wide in a {viewport}px window"


def log_in(page: Any, server: str) -> None:
    """Sign in as operator alice from the login page; on the dashboard after."""
    from playwright.sync_api import expect

    page.goto(server + "/login")
    page.fill("#name", "alice")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(server + "/operator")


def _csp_violations(page: Any) -> list[str]:
    """Console reports of anything the page's Content-Security-Policy blocked."""
    seen: list[str] = []
    page.on(
        "console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None
    )
    return seen


def test_kiosk_to_delivered(
    browser: object, server: str, booth: Booth, engine: Engine, shots: Path
) -> None:
    from playwright.sync_api import expect

    _nodes(booth)
    kiosk = browser.new_page(viewport={"width": 768, "height": 1024})  # type: ignore[attr-defined]
    kiosk_blocked = _csp_violations(kiosk)
    kiosk.goto(server + "/")
    kiosk.fill("#email", "ana@example.com")
    kiosk.click("#register-button")
    expect(kiosk.locator("#register-error")).to_contain_text("consent")
    kiosk.check("#consent")
    kiosk.screenshot(path=shots / "kiosk-768.png", full_page=True)
    kiosk.click("#register-button")
    expect(kiosk.locator("#confirmation")).to_be_visible()
    expect(kiosk.locator("#confirm-email")).to_have_text("ana@example.com")
    kiosk.screenshot(path=shots / "kiosk-confirmation-768.png", full_page=True)
    _no_horizontal_scroll(kiosk)
    kiosk.click("#register-another")
    kiosk.fill("#email", "ben@example.com")
    kiosk.check("#consent")
    kiosk.click("#register-button")
    expect(kiosk.locator("#confirm-position")).to_contain_text("1 person is ahead")

    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    blocked = _csp_violations(page)
    page.goto(server + "/operator")
    expect(page).to_have_url(server + "/login")
    page.fill("#name", "alice")
    page.fill("#password", "wrong password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("wrong operator name or password")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    expect(page).to_have_url(server + "/operator")
    expect(page.locator("#live")).to_have_class("live on")
    expect(page.locator(".node.online")).to_contain_text("29.8")

    page.click("#call-next")
    expect(page.locator("#stage-current")).to_contain_text("ana@example.com")
    page.click("#start-capture")
    expect(page.locator("#countdown")).to_be_visible()
    expect(page.locator("#stage-state")).to_have_text("capturing")
    page.screenshot(path=shots / "operator-countdown-1280.png", full_page=True)
    sid = booth.link.sent[-1][2].session  # type: ignore[attr-defined]

    factory = session_factory(engine)
    with transaction(factory) as db:  # the uploader: a node's manifest, 120 of 300 frames stored
        db.add(Manifest(session_id=sid, node_id="cam-left", body={}, expected=300, received=120))
    row = page.locator(f"tr[data-session='{sid}']")
    expect(row).to_contain_text("40% · upload")
    assert row.locator(".bar-inner").evaluate("e => e.style.width") == "40%"
    with transaction(factory) as db:  # ... and then every frame arrived
        transition(db, sid, SessionState.UPLOADED)
    expect(page.locator("#stage-state")).to_have_text("uploaded")
    queue = JobQueue(factory)
    queue.enqueue(sid, "finetune")
    lease = queue.claim("gpu-1")  # the worker: training at 42 %
    assert lease is not None
    with transaction(factory) as db:
        transition(db, sid, SessionState.TRAINING)
    queue.heartbeat(lease, progress=0.42, eta_s=95)
    expect(row).to_contain_text("42%")
    expect(row).to_contain_text("1 min 35 s")
    page.screenshot(path=shots / "operator-training-1280.png", full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})
    page.screenshot(path=shots / "operator-training-768.png", full_page=True)
    _no_horizontal_scroll(page)

    with transaction(factory) as db:
        transition(db, sid, SessionState.RENDERING)
        db.add(Rendition(session_id=sid, video_key=f"sessions/{sid}/renditions/x.mp4"))
    expect(row.locator(".state")).to_have_text("rendering")
    with transaction(factory) as db:  # the worker's last step: link and email recorded ...
        mail = record(db, sid, "rendition-job-1", link_policy(booth.settings), "b@example.org")
    attempt(factory, booth.app.state.ctx.mailer, mail.mail_id, RetryPolicy())  # ... and sent
    queue.complete(lease)
    expect(row.locator(".state")).to_have_text("delivered")
    expect(row.locator("button[data-act=resend]")).to_be_visible()
    row.locator("button[data-act=resend]").click()
    page.locator("button[data-filter=delivered]").click()
    page.screenshot(path=shots / "operator-delivered-768.png", full_page=True)
    _no_horizontal_scroll(page)
    assert kiosk_blocked == [] and blocked == []


def _real_rendition(booth: Booth, sid: str, tmp_path: Path, held: bool = False) -> str:
    """A real (model-free) MP4 of a shipped dance, stored and linked like the worker does
    (``held``: kept back by the quality gate, no link yet)."""
    from cloud.delivery.tokens import issue_token
    from cloud.render.generator import PosePainter
    from cloud.render.inputs import dance_by_name, rendition_key
    from cloud.render.renderer import render
    from cloud.render.video import RenditionTags
    from cloud.training.framing import Framing

    dance = dance_by_name("disco-steps")
    kps = dance.keypoints[:90]
    frames = Framing.around(kps, 512, 512).to_pixels(kps, 128)
    out = tmp_path / "video.mp4"
    render(
        PosePainter(128),
        frames,
        out,
        fps=dance.fps,
        tags=RenditionTags(sid, "painter"),
        music=dance.music,
    )
    key = rendition_key(sid, dance.name)
    booth.storage.put(key, out.read_bytes(), "video/mp4")
    token = issue_token(timedelta(days=30))
    state = SessionState.NEEDS_REVIEW if held else SessionState.DELIVERED
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", sid, state)
        row.email, row.consent = "ana@example.com", True
        row.error = "needs review: flicker 9.1 > 6.0" if held else None
        db.add(
            Rendition(
                session_id=sid,
                video_key=key,
                dance=dance.name,
                token_digest=None if held else token.digest,
                expires_at=None if held else token.expires_at,
            )
        )
    return token.token


def test_rendition_page_plays_and_deletes(
    browser: object, server: str, booth: Booth, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    token = _real_rendition(booth, "sdanced", tmp_path)
    page = browser.new_page(viewport={"width": 768, "height": 1024})  # type: ignore[attr-defined]
    page.goto(f"{server}/r/{token}")
    expect(page.locator("h1").first).to_contain_text("disco-steps")
    # The browser fetched the MP4 (with byte ranges) and read its header.
    page.wait_for_function("document.getElementById('video').readyState >= 1", timeout=15000)
    duration = page.evaluate("document.getElementById('video').duration")
    assert 2.5 < duration < 3.5, duration
    page.screenshot(path=shots / "rendition-768.png", full_page=True)
    _no_horizontal_scroll(page)
    page.on("dialog", lambda d: d.accept())
    page.click("#delete-button")
    expect(page.locator("#deleted")).to_be_visible()
    page.screenshot(path=shots / "rendition-deleted-768.png", full_page=True)
    assert list(booth.storage.list_keys("sessions/sdanced/")) == []
    assert page.request.get(f"{server}/r/{token}").status == 404


def test_operator_watches_a_held_rendition_and_approves_it(
    browser: object, server: str, booth: Booth, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _real_rendition(booth, "sheld", tmp_path, held=True)
    page = browser.new_page(viewport={"width": 768, "height": 1024})  # type: ignore[attr-defined]
    log_in(page, server)
    page.locator("button[data-filter=review]").click()
    row = page.locator("tr[data-session=sheld]")
    expect(row).to_contain_text("needs_review")
    row.locator("button[data-act=review]").click()
    expect(page.locator("#review")).to_be_visible()
    expect(page.locator("#review-why")).to_contain_text("flicker 9.1")
    # The operator-only preview: the browser fetched the stored MP4 and read its header.
    page.wait_for_function("document.getElementById('review-video').readyState >= 1", timeout=15000)
    assert 2.5 < page.evaluate("document.getElementById('review-video').duration") < 3.5
    page.screenshot(path=shots / "operator-review-768.png", full_page=True)
    page.click("#review-reject")  # no reason given: refused, nothing changes
    expect(page.locator("#review-error")).to_contain_text("reason")
    page.click("#review-approve")
    expect(page.locator("#review")).to_be_hidden()
    page.locator("button[data-filter=delivered]").click()
    expect(page.locator("tr[data-session=sheld]")).to_contain_text("delivered")
    _no_horizontal_scroll(page)
    mail = booth.settings.mail
    assert mail.type == "outbox" and len(list(mail.directory.glob("*.eml"))) == 1


def test_operator_picks_the_rendition_layout(browser: object, server: str, booth: Booth) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    blocked = _csp_violations(page)
    log_in(page, server)
    expect(page.locator("#layout")).to_have_value("solo")
    page.select_option("#layout", "side-by-side")
    expect(page.locator("#capture-mode")).to_have_value("free")  # the fixture's deployment
    page.select_option("#capture-mode", "guided")
    page.fill("#booth-name", "Booth One")
    page.click("#settings-save")
    expect(page.locator("#settings-saved")).to_be_visible()
    page.reload()
    expect(page.locator("#layout")).to_have_value("side-by-side")
    expect(page.locator("#capture-mode")).to_have_value("guided")
    expect(page.locator("#booth-name")).to_have_value("Booth One")
    _no_horizontal_scroll(page)
    assert not blocked
