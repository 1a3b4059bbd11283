"""The operator's clean plate: the API sends the plate command, the node cards show each
node's plate (age, size) and ask for a retake when somebody was in it (Chromium)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Node, Plate, Session, utcnow
from protocol.messages import NodeStats, PlateInfo, PlateTake
from protocol.topics import Command
from tests.cloud.api.conftest import Booth
from tests.cloud.api.test_browser import browser, log_in  # noqa: F401 - browser: a fixture


def _node(node: str, plate: PlateInfo | None) -> Node:
    now = utcnow()
    return Node(
        booth_id="booth1",
        id=node,
        state="online",
        backend="movenet",
        stats=NodeStats().model_dump(),
        plate=None if plate is None else plate.model_dump(),  # as the uploader stores it
        status_at=now,
        seen_at=now,
    )


def _add_nodes(engine: Engine) -> None:
    taken = time.time() - 120
    with transaction(session_factory(engine)) as db:
        ensure_booth(db, "booth1")
        # A visitor whose session's plate turned out not to be the booth's background.
        db.add(Session(id="swarn", booth_id="booth1", email="v@example.org", consent=True))
        db.flush()
        db.add(
            Plate(
                session_id="swarn",
                node_id="cam-clean",
                key="sessions/swarn/cam-clean/plate.jpg",
                taken_at=utcnow(),
                width=1280,
                height=720,
                bytes=1000,
                by_operator=False,
                warning="somebody or something was in it; retake the plate",
            )
        )
        db.add(_node("cam-clean", PlateInfo(taken_at=taken, width=1280, height=720)))
        db.add(
            _node(
                "cam-person",
                PlateInfo(taken_at=taken, width=1280, height=720, by_operator=True, person=True),
            )
        )
        db.add(_node("cam-new", None))


def test_the_plate_command_and_the_nodes_plates(
    operator: TestClient, client: TestClient, booth: Booth
) -> None:
    assert client.post("/api/booth/plate", json={}).status_code in (401, 403)
    r = operator.post("/api/booth/plate", json={"node": "cam-left"})
    assert r.status_code == 202 and r.json() == {"node": "cam-left"}
    assert booth.link.sent[-1] == ("booth1", Command.PLATE, PlateTake(node="cam-left"))
    assert operator.post("/api/booth/plate", json={}).status_code == 202
    assert booth.link.sent[-1][2] == PlateTake()
    assert operator.post("/api/booth/plate", json={"node": "a b"}).status_code == 422
    _add_nodes(booth.engine)
    nodes = {n["id"]: n for n in operator.get("/api/booth/nodes").json()}
    assert nodes["cam-new"]["plate"] is None
    clean = nodes["cam-clean"]["plate"]
    assert clean["width"] == 1280 and clean["warning"] is None and 100 < clean["age_s"] < 200
    assert "retake the plate" in nodes["cam-person"]["plate"]["warning"]
    visitors = {v["id"]: v for v in operator.get("/api/visitors").json()}
    assert visitors["swarn"]["plate_warning"].startswith("cam-clean: somebody")


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_dashboard_warns_about_a_plate_with_somebody_in_it_and_retakes_it(
    browser: object,  # noqa: F811
    server: str,
    booth: Booth,
) -> None:
    from playwright.sync_api import expect

    _add_nodes(booth.engine)
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    log_in(page, server)
    person = page.locator(".node", has_text="cam-person")
    expect(person.locator(".plate")).to_have_attribute("data-plate-state", "person")
    expect(person.locator(".plate")).to_contain_text("retake the plate with the booth empty")
    clean = page.locator(".node", has_text="cam-clean")
    expect(clean.locator(".plate")).to_contain_text("2 min ago")
    expect(page.locator(".node", has_text="cam-new").locator(".plate")).to_contain_text(
        "No clean plate yet"
    )
    row = page.locator("tr[data-session=swarn]")
    expect(row.locator("[data-plate-warning]")).to_contain_text("retake the plate")
    person.locator("button[data-plate]").click()
    expect(page.locator("#nodes-note")).to_contain_text("cam-person")
    assert booth.link.sent[-1][1:] == (Command.PLATE, PlateTake(node="cam-person"))
    page.click("#take-plate")
    expect(page.locator("#nodes-note")).to_contain_text("every camera")
    assert booth.link.sent[-1][2] == PlateTake()
    page.close()
