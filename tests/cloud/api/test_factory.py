"""The settings the CLI hands to each API process come back whole, secrets included."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import SecretStr

from cloud.api import factory
from cloud.settings import CloudSettings


def _secrets(settings: CloudSettings) -> dict[str, str]:
    found: dict[str, str] = {}

    def walk(model: object, prefix: str) -> None:
        for name in type(model).model_fields:  # type: ignore[attr-defined]
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                found[prefix + name] = value.get_secret_value()
            elif hasattr(type(value), "model_fields"):
                walk(value, f"{prefix}{name}.")

    walk(settings, "")
    return found


def test_every_secret_reaches_the_api_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CloudSettings(
        database={"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
        storage={"type": "s3", "bucket": "b", "secret_access_key": "s3-secret-key"},
        mail={"type": "smtp", "host": "relay", "sender": "a@b.example", "password": "smtp-pw"},
        mqtt={"password": "mqtt-pw"},
        api={"secret_key": "cookie-signing-key"},
    )
    assert set(_secrets(settings)) == {
        "storage.secret_access_key",
        "mail.password",
        "mqtt.password",
        "api.secret_key",
    }
    monkeypatch.setenv(factory.ENV, "")
    factory.serve_factory.configure(settings, mqtt=False)
    received = CloudSettings.model_validate(json.loads(os.environ[factory.ENV]))
    assert received == settings
    assert _secrets(received) == _secrets(settings)


def test_a_missing_cookie_key_is_made_once_for_all_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = CloudSettings(database={"url": f"sqlite:///{tmp_path / 'db.sqlite'}"})
    monkeypatch.setenv(factory.ENV, "")
    factory.serve_factory.configure(settings, mqtt=False)
    dump = json.loads(os.environ[factory.ENV])
    key = dump["api"]["secret_key"]
    assert isinstance(key, str) and len(key) >= 32
