"""Schemathesis against the API as an operator, on SQLite and PostgreSQL: every answer is
one the OpenAPI schema documents (status, headers, body), and none is a server error.

The schemathesis CLI runs its example, coverage and fuzzing phases with every check
against the app served by uvicorn. Left out: the event stream (a logged-in call never
ends), logout (it would end the login the run uses; tests/cloud/api/test_logins.py) and
the dance upload (its body is a video file: random bytes are rightly 415 or 422;
tests/cloud/api/test_dances.py sends it every kind of bad input).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from cloud.api import create_app
from cloud.api.link import LocalBoothLink
from cloud.api.security import COOKIE, add_operator
from cloud.db.engine import session_factory, transaction
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue
from cloud.mqtt.broker import free_port
from cloud.mqtt.mosquitto import wait_for_port
from cloud.render.inputs import rendition_key
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from tests.cloud.api.conftest import CSRF, PASSWORD

EXAMPLES = 12  # per operation and phase: ~1 min per backend on 2 busy cores


def _app(engine: Engine, db_url: str, tmp_path: Path) -> FastAPI:
    storage = LocalStorage(tmp_path / "store")
    with transaction(session_factory(engine)) as db:
        add_operator(db, "alice", PASSWORD)
        ensure_session(db, "booth1", "s0", SessionState.UPLOADED)
        held = ensure_session(db, "booth1", "sheld", SessionState.NEEDS_REVIEW)
        held.email, held.consent = "held@example.com", True
        key = rendition_key("sheld", "wave-party")
        storage.put(key, b"\0" * 256, "video/mp4")
        db.add(Rendition(session_id="sheld", video_key=key, dance="wave-party"))
    JobQueue(session_factory(engine)).enqueue("s0", "finetune")
    settings = CloudSettings(
        database={"url": db_url},
        mail={"type": "outbox", "directory": str(tmp_path / "outbox")},
        api={
            "secret_key": "k" * 32,
            "kiosk_per_minute": 100_000,
            "login_failures_per_account": 100_000,
            "login_failures_per_address": 100_000,
        },
    )
    return create_app(settings, engine=engine, link=LocalBoothLink(), storage=storage)


@pytest.fixture
def served(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    app = _app(engine, db_url, tmp_path)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = server.force_exit = True
    deadline = time.monotonic() + 10
    while thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.slow
def test_every_answer_is_documented_and_none_is_a_server_error(served: str) -> None:
    login = httpx.post(
        f"{served}/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF
    )
    assert login.status_code == 200, login.text
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{served}/openapi.json",
        "--checks=all",
        f"--header=X-Dancebooth: {CSRF['X-Dancebooth']}",
        f"--header=Cookie: {COOKIE}={login.cookies[COOKIE]}",
        "--exclude-path=/api/events",
        "--exclude-path=/api/auth/logout",
        "--exclude-operation-id=upload_dance",
        "--phases=examples,coverage,fuzzing",
        f"--max-examples={EXAMPLES}",
        "--seed=20261202",
        "--workers=1",
        "--suppress-health-check=all",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=400, check=False)
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-3000:]


def test_schema_lists_every_router(served: str) -> None:
    paths = set(httpx.get(f"{served}/openapi.json").json()["paths"])
    routers = ("/api/visitors", "/api/booth", "/api/jobs", "/api/renditions", "/api/auth")
    for prefix in (*routers, "/api/dances", "/api/kiosk"):
        assert any(p.startswith(prefix) for p in paths), prefix
