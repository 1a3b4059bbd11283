"""API fixtures: the app on a migrated database (SQLite and PostgreSQL), an operator, a server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cloud.api import create_app
from cloud.api.link import LocalBoothLink
from cloud.api.security import add_operator
from cloud.db.engine import session_factory, transaction
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from tests.services import free_port, wait_for_port

PASSWORD = "correct horse battery"
CSRF = {"X-Dancebooth": "1"}


@dataclass
class Booth:
    app: FastAPI
    engine: Engine
    link: LocalBoothLink
    settings: CloudSettings
    storage: LocalStorage


@pytest.fixture
def booth(engine: Engine, db_url: str, tmp_path: Path) -> Booth:
    settings = CloudSettings(
        database={"url": db_url},
        mail={"type": "outbox", "directory": str(tmp_path / "outbox")},
        api={
            "secret_key": "test-secret-key-0123456789",
            "countdown_s": 2,
            "capture_mode": "free",  # 3 s captures; guided ones last their dance (test_capture)
            "capture_s": 3,
            "kiosk_per_minute": 5,
            "events_poll_s": 0.1,
        },
    )
    link = LocalBoothLink()
    with transaction(session_factory(engine)) as db:
        add_operator(db, "alice", PASSWORD)
    storage = LocalStorage(tmp_path / "store")
    app = create_app(settings, engine=engine, link=link, storage=storage)
    return Booth(app, engine, link, settings, storage)


@pytest.fixture
def client(booth: Booth) -> Iterator[TestClient]:
    with TestClient(booth.app) as c:
        yield c


@pytest.fixture
def operator(booth: Booth) -> Iterator[TestClient]:
    """A second client, logged in as operator alice."""
    with TestClient(booth.app) as c:
        r = c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
        assert r.status_code == 200, r.text
        c.headers.update(CSRF)
        yield c


@pytest.fixture
def server(booth: Booth) -> Iterator[str]:
    """The app served by uvicorn on a free port in a thread; its base URL."""
    port = free_port()
    config = uvicorn.Config(booth.app, host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = srv.force_exit = True  # open event streams must not hold the shutdown
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def dance_op(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Booth]]:
    """An operator's client on a booth whose dance adds run for real, and the booth."""
    from tests.cloud.api.dance_fixtures import dance_booth, dance_settings, dance_video

    _video, keypoints = dance_video(tmp_path)
    booth = dance_booth(engine, dance_settings(tmp_path, db_url), tmp_path, keypoints)
    with TestClient(booth.app) as c:
        r = c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
        assert r.status_code == 200, r.text
        c.headers.update(CSRF)
        yield c, booth
