"""``dancebooth cloud api --workers 2`` as a real multi-process server: every process has
the settings it was given, secrets included (SMTP password, cookie key), and believes no
X-Forwarded-For it was not told to, seen from outside."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from cloud.api.security import add_operator
from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database
from cloud.db.lifecycle import ensure_session
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from cloud.mqtt.broker import free_port
from cloud.mqtt.mosquitto import stop_process
from cloud.render.inputs import rendition_key
from cloud.storage.local import LocalStorage
from tests.cloud.api.conftest import CSRF, PASSWORD
from tests.cloud.delivery.smtp_server import PASSWORD as SMTP_PASSWORD
from tests.cloud.delivery.smtp_server import USER as SMTP_USER
from tests.cloud.delivery.smtp_server import SmtpServer, run_smtp

pytestmark = [pytest.mark.slow, pytest.mark.services]

HELD = ("sheld1", "sheld2", "sheld3", "sheld4")


@dataclass
class Api:
    url: str
    smtp: SmtpServer


def _seed(db_url: str, store: Path) -> None:
    upgrade_database(db_url)
    storage = LocalStorage(store)
    engine = make_engine(db_url)
    with transaction(session_factory(engine)) as db:
        add_operator(db, "alice", PASSWORD)
        for sid in HELD:
            key = rendition_key(sid, "wave-party")
            storage.put(key, b"\0" * 64, "video/mp4")
            row = ensure_session(db, "booth1", sid, SessionState.NEEDS_REVIEW)
            row.email, row.consent = f"{sid}@example.com", True
            db.add(Rendition(session_id=sid, video_key=key, dance="wave-party"))
    engine.dispose()


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/api/auth/me", timeout=2).status_code == 401:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the API at {url} did not answer in {timeout}s")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp_path = tmp_path_factory.mktemp("api")
    db_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    _seed(db_url, tmp_path / "store")
    with run_smtp(tmp_path, security="starttls", auth=True) as smtp:
        port = free_port()
        config = {
            "database": {"url": db_url},
            "storage": {"type": "local", "root": str(tmp_path / "store")},
            "mail": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "starttls",
                "username": SMTP_USER,
                "password": SMTP_PASSWORD,
                "sender": "booth@example.com",
                "ca_file": str(smtp.cert),
            },
            "delivery": {"mail_attempts": 1},
            "api": {"secret_key": "multi-process-secret-key-0123456789", "kiosk_per_minute": 1},
        }
        path = tmp_path / "cloud.yaml"
        path.write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "dancebooth", "cloud", "api", "-c", str(path)]
        command += ["--workers", "2", "--no-mqtt", "--port", str(port)]
        proc = subprocess.Popen(command, cwd=tmp_path)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_ready(url, proc)
            yield Api(url, smtp)
        finally:
            stop_process(proc, grace=10)


def _fresh(url: str) -> httpx.Client:
    # No keep-alive: each request opens a connection, so both processes answer some.
    return httpx.Client(base_url=url, limits=httpx.Limits(max_keepalive_connections=0))


def test_every_api_process_mails_with_the_smtp_password(api: Api) -> None:
    with _fresh(api.url) as c:
        r = c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
        assert r.status_code == 200, r.text
        for sid in HELD:
            # The login cookie signed by one process opens the others.
            me = c.get("/api/auth/me")
            assert me.status_code == 200, me.text
            r = c.post(f"/api/renditions/{sid}/review", json={"decision": "approve"}, headers=CSRF)
            assert r.status_code == 200, r.text
            assert r.json()["mail"] == "sent", r.json()
    assert sorted(str(m["To"]) for m in api.smtp.inbox.messages) == [
        f"{sid}@example.com" for sid in HELD
    ]


def test_a_forged_forwarded_for_does_not_escape_the_kiosk_limit(api: Api) -> None:
    codes = []
    with _fresh(api.url) as c:
        for i in range(6):
            r = c.post(
                "/api/visitors",
                json={"email": f"v{i}@example.com", "consent": True},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            codes.append(r.status_code)
    # One registration a minute per client and process: two processes, at most two.
    assert codes.count(201) <= 2 and codes.count(429) >= 4, codes
