"""Operator logins: server-side (logout, a new password and removal end them), throttled
per account and per address, with a bounded number of password checks at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cloud.api import create_app
from cloud.api.errors import AuthError, BusyError, ThrottledError
from cloud.api.ratelimit import LoginGuard
from cloud.api.security import COOKIE, add_operator
from cloud.db.engine import session_factory, transaction
from dancebooth.cli import cli
from tests.cloud.api.conftest import CSRF, PASSWORD, Booth

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _login(c: TestClient, name: str = "alice", password: str = PASSWORD) -> int:
    r = c.post("/api/auth/login", json={"name": name, "password": password}, headers=CSRF)
    return r.status_code


def _app(booth: Booth, **api: Any) -> FastAPI:
    settings = booth.settings.model_copy(update={"api": booth.settings.api.model_copy(update=api)})
    return create_app(settings, engine=booth.engine, link=booth.link, storage=booth.storage)


def test_logout_ends_the_login_for_every_copy_of_the_cookie(
    operator: TestClient, booth: Booth
) -> None:
    cookie = operator.cookies[COOKIE]
    with TestClient(booth.app, cookies={COOKIE: cookie}) as thief:
        assert thief.get("/api/auth/me").status_code == 200
        assert operator.post("/api/auth/logout").status_code == 200
        assert thief.get("/api/auth/me").status_code == 401
        assert thief.get("/operator", follow_redirects=False).status_code == 303
    assert _login(operator) == 200  # logging in again works


@sqlite_only
def test_a_new_password_or_removal_ends_the_operators_logins(
    operator: TestClient, booth: Booth, db_url: str
) -> None:
    env = {"DANCEBOOTH_CLOUD_DATABASE__URL": db_url}
    new = "a brand new passphrase"
    result = CliRunner().invoke(
        cli,
        ["cloud", "operator", "passwd", "alice"],
        env={**env, "DANCEBOOTH_OPERATOR_PASSWORD": new},
    )
    assert result.exit_code == 0, result.output
    assert "1 login(s) ended" in result.output
    assert operator.get("/api/auth/me").status_code == 401
    assert _login(operator) == 401  # the old password is gone
    assert _login(operator, password=new) == 200
    listed = CliRunner().invoke(cli, ["cloud", "operator", "list"], env=env)
    assert listed.exit_code == 0 and "alice\tlast login" in listed.output
    result = CliRunner().invoke(cli, ["cloud", "operator", "remove", "alice", "--yes"], env=env)
    assert result.exit_code == 0, result.output
    assert operator.get("/api/auth/me").status_code == 401
    assert _login(operator, password=new) == 401
    missing = CliRunner().invoke(cli, ["cloud", "operator", "remove", "alice", "--yes"], env=env)
    assert missing.exit_code != 0 and "no operator 'alice'" in missing.output


@sqlite_only
def test_failed_logins_are_throttled_per_account(booth: Booth) -> None:
    with transaction(session_factory(booth.engine)) as db:
        add_operator(db, "bob", PASSWORD)
    app = _app(booth, login_failures_per_account=3, login_failures_per_address=100)
    with TestClient(app) as c:
        assert [_login(c, password="guess-" + str(i)) for i in range(3)] == [401] * 3
        r = c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
        assert r.status_code == 429, r.text  # even the right password waits now
        assert 1 <= int(r.headers["Retry-After"]) <= 900
        assert _login(c, name="ALICE") == 429  # names are throttled case-blind
        assert _login(c, name="bob") == 200  # other accounts are not locked out


@sqlite_only
def test_failed_logins_are_throttled_per_address(booth: Booth) -> None:
    app = _app(booth, login_failures_per_account=100, login_failures_per_address=3)
    with TestClient(app, client=("198.51.100.7", 4000)) as attacker:
        codes = [_login(attacker, name=f"user{i}", password="guess") for i in range(4)]
        assert codes == [401, 401, 401, 429]
        assert _login(attacker) == 429
    with TestClient(app, client=("198.51.100.8", 4000)) as colleague:
        assert _login(colleague) == 200


@sqlite_only
def test_password_checks_at_once_are_bounded(booth: Booth) -> None:
    app = _app(booth)
    app.state.ctx.login_guard = LoginGuard(10, 10, 60, concurrency=1, queue_s=0.2)
    with TestClient(app) as c, app.state.ctx.login_guard.attempt("someone", "192.0.2.1"):
        r = c.post("/api/auth/login", json={"name": "alice", "password": PASSWORD}, headers=CSRF)
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    with TestClient(app) as c:
        assert _login(c) == 200  # the slot is free again


def test_the_guard_counts_only_failures_and_frees_its_slot() -> None:
    guard = LoginGuard(per_account=2, per_address=5, window_s=60, concurrency=1, queue_s=0.05)
    for _ in range(2):
        with pytest.raises(AuthError), guard.attempt("alice", "a"):
            raise AuthError("wrong")
    with pytest.raises(ThrottledError) as caught, guard.attempt("alice", "a"):
        pass
    assert 59 < caught.value.retry_after_s <= 60
    with guard.attempt("bob", "a"):  # a success clears nothing else and frees the slot
        pass
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with guard.attempt("carol", "b"):
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    with pytest.raises(BusyError), guard.attempt("dave", "c"):
        pass
    release.set()
    t.join()
    with guard.attempt("dave", "c"):
        pass
