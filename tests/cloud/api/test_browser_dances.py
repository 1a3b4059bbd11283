"""The Dances page in Chromium: upload a video (progress), read its report and preview,
trim it with the slider until it is refused (reasons, what to do), keep it anyway, enable
it; the kiosk offers it, the visitor picks it, and the capture is rendered
performing it (the worker's render + deliver steps, a model-free painter for the model).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
import uvicorn
from sqlalchemy import Engine

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import transition
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from cloud.jobs.deliver import DeliverStep
from cloud.jobs.pipeline import RenderStep, model_key, report_key
from cloud.jobs.queue import JobQueue
from cloud.jobs.worker import Worker
from cloud.render.generator import PosePainter
from cloud.render.inputs import rendition_key
from tests.cloud.api.conftest import Booth
from tests.cloud.api.dance_fixtures import (
    dance_booth,
    dance_settings,
    dance_video,
    store_capture,
)
from tests.cloud.api.test_browser import (
    _csp_violations,
    _no_horizontal_scroll,
    browser,
    log_in,
    shots,
)
from tests.services import free_port, wait_for_port

__all__ = ["browser", "shots"]

pytestmark = [
    pytest.mark.services,
    pytest.mark.slow,
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),
]


@pytest.fixture
def served(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[tuple[str, Booth, Path]]:
    video, keypoints = dance_video(tmp_path)
    settings = dance_settings(tmp_path, db_url, countdown_s=1, capture_s=2)
    booth = dance_booth(engine, settings, tmp_path, keypoints)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(booth.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}", booth, video
    srv.should_exit = srv.force_exit = True
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_upload_report_enable_and_a_capture_renders_that_dance(
    browser: object, served: tuple[str, Booth, Path], shots: Path
) -> None:
    from playwright.sync_api import expect

    server, booth, video = served
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    blocked = _csp_violations(page)
    log_in(page, server)
    page.click("nav.tabs >> text=Dances")
    expect(page).to_have_url(server + "/operator/dances")
    expect(page.locator("tr[data-dance=wave-party]")).to_contain_text("built in")

    page.set_input_files("#upload-file", str(video))
    expect(page.locator("#upload-name")).to_have_value("Salsa-Night")
    page.fill("#upload-name", "salsa")
    page.fill("#upload-title", "Salsa night")
    page.click("#upload-button")
    expect(page.locator("#detail")).to_be_visible(timeout=20000)  # uploaded: its report opens
    expect(page.locator("#upload-pct")).to_contain_text("uploaded")  # then the check's own bar
    row = page.locator("tr[data-dance=salsa]")
    expect(row.locator(".state")).to_have_text("ready", timeout=60000)
    expect(page.locator("#detail-status")).to_have_text("ready")
    expect(page.locator("#detail-report")).to_contain_text("dancer found")
    expect(row.locator(".summary")).to_contain_text("dancer found 100%")
    # The preview: the skeleton over the kept video; the browser read the MP4's header.
    expect(page.locator("#detail-video")).to_be_visible()
    page.wait_for_function("() => document.getElementById('detail-video').readyState >= 1")
    page.screenshot(path=shots / "dances-report-1280.png", full_page=True)

    # Trimmed to its first second: refused, with why and what to do; then kept anyway.
    page.locator("#trim-end").evaluate(
        "(e) => { e.value = '1'; e.dispatchEvent(new Event('input')); }"
    )
    expect(page.locator("#trim-end-out")).to_have_text("1.0 s")
    page.click("#detail-rerun")
    expect(row.locator(".state")).to_have_text("refused", timeout=60000)
    expect(page.locator("#detail-refused")).to_be_visible()
    expect(page.locator("#detail-reasons li").first).to_be_visible()
    expect(page.locator("#detail-hints li").first).to_be_visible()
    expect(row).to_contain_text("the previous version is kept")
    page.screenshot(path=shots / "dances-refused-1280.png", full_page=True)
    page.click("#detail-force")
    expect(row.locator(".state")).to_have_text("ready (forced)", timeout=60000)
    expect(page.locator("#detail-refused")).to_be_hidden()
    page.click("#detail-close")
    page.click("tr[data-dance=disco-steps] >> text=Report & preview")  # built in: no video
    expect(page.locator("#detail-skeleton")).to_be_visible()  # its stored skeleton, playing
    expect(page.locator("#detail-skeleton")).to_have_attribute("data-frame", re.compile(r"[1-9]"))
    page.click("#detail-close")

    row.locator("input[data-enable]").check()
    expect(page.locator("#rotation-list li")).to_have_count(2)
    expect(page.locator("#rotation-list")).to_contain_text("Salsa night")
    page.screenshot(path=shots / "dances-1280.png", full_page=True)
    page.set_viewport_size({"width": 768, "height": 1024})
    _no_horizontal_scroll(page)

    kiosk = browser.new_page(viewport={"width": 768, "height": 1024})  # type: ignore[attr-defined]
    kiosk.goto(server + "/")
    expect(kiosk.locator("#dance-choice")).to_be_visible()
    kiosk.fill("#email", "ana@example.com")
    kiosk.check("#consent")
    kiosk.click("#register-button")
    expect(kiosk.locator("#register-error")).to_contain_text("pick the dance")
    kiosk.locator(".dance-option", has_text="Salsa night").click()
    kiosk.screenshot(path=shots / "kiosk-choice-768.png", full_page=True)
    kiosk.click("#register-button")
    expect(kiosk.locator("#confirm-dance")).to_have_text("Your dance: Salsa night")
    _no_horizontal_scroll(kiosk)

    page.goto(server + "/operator")
    page.click("#call-next")
    page.click("#start-capture")
    expect(page.locator("#stage-state")).to_have_text("capturing")
    sid = booth.link.sent[-1][2].session  # type: ignore[attr-defined]
    _capture_and_render(booth, sid)
    row = page.locator(f"tr[data-session='{sid}']")
    expect(row.locator(".state")).to_have_text("delivered", timeout=20000)
    assert blocked == []


def _capture_and_render(booth: Booth, sid: str) -> None:
    """The nodes + uploader (stored frames), then the worker: render and deliver."""
    factory = session_factory(booth.engine)
    store_capture(booth.engine, booth.storage, sid)
    booth.storage.put(model_key(sid, "best.safetensors"), b"weights")  # the fine-tune's
    booth.storage.put(model_key(sid, "metrics.json"), json.dumps({"ssim": 0.9}).encode())
    queue = JobQueue(factory)
    queue.enqueue(sid, "finetune")
    with transaction(factory) as db:  # the fine-tune step's part, which the test skips
        transition(db, sid, SessionState.TRAINING)
    s, store = booth.settings, booth.storage
    render = RenderStep(s, factory, store, generator=lambda _weights: PosePainter(128))
    pipelines = {"finetune": [render, DeliverStep(s, factory, store, gate=False)]}
    worker = Worker(queue, pipelines, "w1", heartbeat_s=0.5)
    assert worker.run_once()
    report = json.loads(store.get(report_key(sid)))
    assert report["dance"] == "salsa", report
    with factory() as db:
        rendition = db.get(Rendition, sid)
        assert rendition is not None and rendition.dance == "salsa"
    key = rendition_key(sid, "salsa")
    with av.open(str(store.root / key)) as container:
        assert container.metadata["dance"] == "salsa"  # the video's own tags say so too
        assert sum(1 for _ in container.decode(video=0)) >= 30  # the whole (trimmed) dance
