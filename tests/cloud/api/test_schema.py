"""Schemathesis against the API's OpenAPI schema, logged in as an operator: 0 server errors.

Every operation gets generated valid and invalid input (bad ids, huge numbers,
wrong types, missing fields); the only check that matters here is that nothing
answers 5xx. The event stream is left out: a logged-in call never ends.
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from cloud.api import create_app
from cloud.api.link import LocalBoothLink
from cloud.api.security import add_operator
from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database
from cloud.db.lifecycle import ensure_session
from cloud.db.states import SessionState
from cloud.jobs.queue import JobQueue
from cloud.settings import CloudSettings
from cloud.storage.local import LocalStorage
from tests.cloud.api.conftest import CSRF, PASSWORD


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path_factory.mktemp('schema') / 'db.sqlite'}"
    upgrade_database(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as db:
        add_operator(db, "alice", PASSWORD)
        ensure_session(db, "booth1", "s0", SessionState.UPLOADED)
    JobQueue(session_factory(engine)).enqueue("s0", "finetune")
    settings = CloudSettings(
        database={"url": url}, api={"secret_key": "k" * 32, "kiosk_per_minute": 100_000}
    )
    storage = LocalStorage(tmp_path_factory.mktemp("store"))
    return create_app(settings, engine=engine, link=LocalBoothLink(), storage=storage)


@pytest.fixture(scope="module")
def login_cookie(api_app) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with TestClient(api_app) as c:
        r = c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
        assert r.status_code == 200
        return dict(r.cookies)


@pytest.fixture(scope="module")
def api_schema(api_app):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", api_app).exclude(path="/api/events")


@pytest.mark.slow
def test_no_server_errors(api_schema, login_cookie: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    tested = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=operation.as_strategy())
        def call(case: schemathesis.Case) -> None:
            response = case.call(headers=CSRF, cookies=login_cookie)
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text}"
            )

        call()
        tested += 1
    assert tested >= 12


def test_schema_lists_every_router(api_app) -> None:  # type: ignore[no-untyped-def]
    paths = set(api_app.openapi()["paths"])
    for prefix in ("/api/visitors", "/api/booth", "/api/jobs", "/api/renditions", "/api/auth"):
        assert any(p.startswith(prefix) for p in paths), prefix
