"""The review dialog of a rendition the quality gate held, in Chromium: the gate's reasons,
its figures beside their limits, and the strip of the worst checked frames with the
skeleton drawn over them, built the way the worker builds them (sampled frames,
:func:`cloud.render.checks.check_rendition`, :func:`~cloud.render.checks.strip`, the gate's
decision) and served by the API."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from cloud.jobs.pipeline import report_key, strip_key
from cloud.render.checks import FrameSampler, check_rendition, strip
from cloud.render.generator import PosePainter
from cloud.render.inputs import dance_by_name, rendition_key
from cloud.render.quality import CheckFigures, QualityGate
from cloud.training.framing import Framing
from common.pose_check import Keypoints
from common.posemap import pose_map
from protocol.skeleton import torso_length
from tests.cloud.api.conftest import Booth
from tests.cloud.api.test_browser import _csp_violations, browser, log_in, shots

__all__ = ["browser", "shots"]

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]
SIZE = 128


_DRIVEN: dict[int, Keypoints] = {}


def _off_then_gone(frames: np.ndarray, index: Sequence[int]) -> list[Keypoints | None]:
    """A pose estimator that finds the dancer a torso length below the pose asked for, and
    nobody in the dance's last run of frames (from frame 80 of 90)."""
    out: list[Keypoints | None] = []
    for i in index:
        found = _DRIVEN[i].copy()
        found[:, 1] += torso_length(found)
        out.append(None if i >= 80 else found)
    return out


def _held_with_checks(booth: Booth, sid: str) -> list[str]:
    """A rendition sampled, checked, gated and stored as the worker does; its reasons."""
    dance = dance_by_name("disco-steps")
    kps = dance.keypoints[:90]
    poses = Framing.around(kps, 512, 512).to_pixels(kps, SIZE).astype(np.float32)
    painter = PosePainter(SIZE)
    sampler = FrameSampler(len(poses), runs=4, run_length=3)
    for i, p in enumerate(poses):
        if sampler.wants(i):
            _DRIVEN[i] = p
            frame = painter.generate(pose_map(p, SIZE, SIZE)[None], None)[0]
            sampler.offer(i, frame, p, None)
    checks = check_rendition(sampler, _off_then_gone, [])
    ok, jpeg = cv2.imencode(".jpg", strip(sampler, checks))
    assert ok
    report = {"dance": dance.name, "checks": checks.report()}
    booth.storage.put(strip_key(sid), jpeg.tobytes(), "image/jpeg")
    booth.storage.put(report_key(sid), json.dumps(report).encode(), "application/json")
    booth.storage.put(rendition_key(sid, dance.name), b"\x00", "video/mp4")
    figures = CheckFigures.from_report(checks.report())
    decision = QualityGate.from_settings(booth.settings.render.quality).decide(0.8, 0.5, figures)
    assert not decision.deliver
    with transaction(session_factory(booth.engine)) as db:
        row = ensure_session(db, "booth1", sid, SessionState.NEEDS_REVIEW)
        row.email, row.consent = "ana@example.com", True
        row.error = "needs review: " + "; ".join(decision.reasons)
        db.add(
            Rendition(
                session_id=sid,
                video_key=rendition_key(sid, dance.name),
                dance=dance.name,
                held_out_ssim=0.8,
                flicker=0.5,
                dancer_missing=figures.missing,
                pose_error=figures.pose_error,
                review_reasons="; ".join(decision.reasons),
            )
        )
    return list(decision.reasons)


def test_the_review_dialog_shows_the_strip_the_figures_and_the_reasons(
    browser: Any, server: str, booth: Booth, shots: Path
) -> None:
    from playwright.sync_api import expect

    reasons = _held_with_checks(booth, "sstrip")
    assert reasons[0].startswith("the drawn pose is off by 1.00 torso lengths"), reasons
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    blocked = _csp_violations(page)
    log_in(page, server)
    page.locator("button[data-filter=review]").click()
    row = page.locator("tr[data-session=sstrip]")
    expect(row).to_contain_text("needs_review")
    row.locator("button[data-act=review]").click()
    expect(page.locator("#review")).to_be_visible()
    listed = page.locator("#review-reasons li")
    expect(listed).to_have_count(len(reasons))
    expect(listed.first).to_contain_text("the drawn pose is off by 1.00 torso lengths")
    expect(page.locator("#review-why")).to_contain_text(f"{len(reasons)} reason")
    # The figure over its limit is marked, with the limit beside it; the one within is not.
    limit = booth.settings.render.quality.max_pose_error
    pose = page.locator("#review-figures tr", has_text="pose error (torso lengths)")
    expect(pose.locator("td.over")).to_have_text("1.00")
    expect(pose).to_contain_text(f"max {limit:.2f}")
    missing = page.locator("#review-figures tr", has_text="frames with nobody")
    expect(missing.locator("td").first).to_have_text("25 %")
    expect(missing.locator("td.over")).to_have_count(0)
    expect(page.locator("#review-figures")).to_contain_text("pose error per part")
    # The strip: visible, fetched from the API and decoded at the size the worker drew it.
    expect(page.locator("#review-strip-box")).to_be_visible()
    img = page.locator("#review-strip")
    page.wait_for_function(
        "() => { const i = document.getElementById('review-strip');"
        " return i.complete && i.naturalWidth > 0; }",
        timeout=15000,
    )
    width, height = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert (width, height) == (6 * SIZE, SIZE)
    box = img.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    page.screenshot(path=str(shots / "operator-review-strip.png"), full_page=True)
    assert not blocked
