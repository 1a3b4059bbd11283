"""The app as uvicorn imports it in each API process (``--workers N``).

Settings are handed over by the CLI through an environment variable (a JSON dump), so
every process builds the same app without a module-level settings singleton. The dump
carries every secret in clear text (``model_dump`` alone masks ``SecretStr`` as
``**********``); it lives only in this process's environment and its children's.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, SecretBytes, SecretStr

from cloud.db.engine import upgrade_database
from cloud.settings import CloudSettings

ENV = "DANCEBOOTH_API_SETTINGS_JSON"
ENV_MQTT = "DANCEBOOTH_API_MQTT"


def dump_with_secrets(model: BaseModel) -> dict[str, Any]:
    """``model`` as JSON-ready data that validates back to an equal model, secrets included."""
    dump: dict[str, Any] = model.model_dump(mode="json")
    for name in type(model).model_fields:
        dump[name] = _reveal(getattr(model, name), dump[name])
    return dump


def _reveal(value: Any, dumped: Any) -> Any:
    if isinstance(value, SecretStr | SecretBytes):
        secret = value.get_secret_value()
        return secret.decode() if isinstance(secret, bytes) else secret
    if isinstance(value, BaseModel):
        return dump_with_secrets(value)
    if isinstance(value, list | tuple):
        return [_reveal(v, d) for v, d in zip(value, dumped, strict=True)]
    if isinstance(value, dict):
        return {k: _reveal(value[k], dumped[k]) for k in value}
    return dumped


class _Factory:
    def configure(self, settings: CloudSettings, mqtt: bool) -> None:
        if settings.api.secret_key is None:  # demo: one random key shared by all processes
            settings = settings.model_copy(
                update={
                    "api": settings.api.model_copy(
                        update={"secret_key": SecretStr(secrets.token_urlsafe(32))}
                    )
                }
            )
        os.environ[ENV] = json.dumps(dump_with_secrets(settings))
        os.environ[ENV_MQTT] = "1" if mqtt else "0"
        upgrade_database(settings.database.url)


serve_factory = _Factory()


def app() -> FastAPI:
    from cloud.api.app import create_app
    from cloud.api.link import BoothLink, LocalBoothLink, MqttBoothLink

    settings = CloudSettings.model_validate(json.loads(os.environ[ENV]))
    link: BoothLink = (
        MqttBoothLink(settings.mqtt, settings.booth, clock_ping_s=settings.clock.ping_every_s)
        if os.environ.get(ENV_MQTT) == "1"
        else LocalBoothLink()
    )
    return create_app(settings, link=link)
