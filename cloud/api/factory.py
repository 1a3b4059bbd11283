"""The app as uvicorn imports it in each API process (``--workers N``).

Settings are handed over by the CLI through an environment variable (a JSON dump), so
every process builds the same app without a module-level settings singleton.
"""

from __future__ import annotations

import json
import os

from fastapi import FastAPI

from cloud.db.engine import upgrade_database
from cloud.settings import CloudSettings

ENV = "DANCEBOOTH_API_SETTINGS_JSON"
ENV_MQTT = "DANCEBOOTH_API_MQTT"


class _Factory:
    def configure(self, settings: CloudSettings, mqtt: bool) -> None:
        dump = settings.model_dump(mode="json")
        # Secrets travel to the child processes too (model_dump hides SecretStr).
        if settings.api.secret_key is None:
            import secrets

            dump["api"]["secret_key"] = secrets.token_urlsafe(32)  # shared by all processes
        else:
            dump["api"]["secret_key"] = settings.api.secret_key.get_secret_value()
        if settings.mqtt.password is not None:
            dump["mqtt"]["password"] = settings.mqtt.password.get_secret_value()
        os.environ[ENV] = json.dumps(dump)
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
