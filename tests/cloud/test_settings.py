"""Cloud settings from the environment, as containers and systemd units set them."""

from __future__ import annotations

import pytest

from cloud.settings import CloudSettings
from protocol.settings import ConfigError, load_settings


def test_training_resolution_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANCEBOOTH_CLOUD_TRAINING__RESOLUTION", "256")
    assert load_settings(CloudSettings).training.resolution == 256
    monkeypatch.setenv("DANCEBOOTH_CLOUD_TRAINING__RESOLUTION", "200")
    with pytest.raises(ConfigError, match=r"training\.resolution"):
        load_settings(CloudSettings)


STRONG = "n3v3r-gu3ss-th1s-0ne-Kq8ZrT5wXy2PaLm"
PRODUCTION = {
    "DANCEBOOTH_CLOUD_ENVIRONMENT": "production",
    "DANCEBOOTH_CLOUD_API__SECRET_KEY": STRONG,
    "DANCEBOOTH_CLOUD_API__PUBLIC_URL": "https://booth.example.com",
    "DANCEBOOTH_CLOUD_MQTT__PASSWORD": "mqtt-" + STRONG,
    "DANCEBOOTH_CLOUD_DATABASE__URL": f"postgresql+psycopg://booth:db-{STRONG}@db/booth",
    "DANCEBOOTH_CLOUD_STORAGE__TYPE": "s3",
    "DANCEBOOTH_CLOUD_STORAGE__BUCKET": "dancebooth",
    "DANCEBOOTH_CLOUD_STORAGE__SECRET_ACCESS_KEY": "s3-" + STRONG,
    "DANCEBOOTH_CLOUD_MAIL__TYPE": "smtp",
    "DANCEBOOTH_CLOUD_MAIL__HOST": "relay",
    "DANCEBOOTH_CLOUD_MAIL__SENDER": "booth@booth.example.com",
    "DANCEBOOTH_CLOUD_MAIL__PASSWORD": "smtp-" + STRONG,
    "DANCEBOOTH_CLOUD_CREDENTIALS__CERT": "/run/secrets/c2pa/signer.pem",
    "DANCEBOOTH_CLOUD_CREDENTIALS__KEY": "/run/secrets/c2pa/signer.key",
}


def _production(monkeypatch: pytest.MonkeyPatch, **changes: str) -> CloudSettings:
    for key, value in {**PRODUCTION, **changes}.items():
        monkeypatch.setenv(key, value)
    return load_settings(CloudSettings)


def test_production_accepts_strong_secrets_and_https(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _production(monkeypatch)
    assert settings.api.public_url == "https://booth.example.com"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("DANCEBOOTH_CLOUD_API__SECRET_KEY", "change-me", "api.secret_key (a placeholder)"),
        ("DANCEBOOTH_CLOUD_API__SECRET_KEY", "change-me-api-secret-key", "api.secret_key"),
        ("DANCEBOOTH_CLOUD_API__SECRET_KEY", "short-but-random-Kq8Z", "shorter than 32"),
        ("DANCEBOOTH_CLOUD_MQTT__PASSWORD", "CHANGEME", "mqtt.password (a placeholder)"),
        ("DANCEBOOTH_CLOUD_STORAGE__SECRET_ACCESS_KEY", "minioadmin", "well-known default"),
        ("DANCEBOOTH_CLOUD_MAIL__PASSWORD", "change-me-smtp-password", "mail.password"),
        (
            "DANCEBOOTH_CLOUD_DATABASE__URL",
            "postgresql+psycopg://dancebooth:change-me@db/booth",
            "database.url password",
        ),
    ],
)
def test_production_refuses_weak_or_default_secrets(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, named: str
) -> None:
    with pytest.raises(ConfigError, match="production refuses") as caught:
        _production(monkeypatch, **{key: value})
    assert named in str(caught.value)
    assert value not in str(caught.value)  # the error names the key, never the secret


def test_production_refuses_a_plain_http_public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"https:// api\.public_url"):
        _production(monkeypatch, DANCEBOOTH_CLOUD_API__PUBLIC_URL="http://booth.example.com")


def test_the_demo_keeps_its_defaults() -> None:
    settings = CloudSettings(api={"secret_key": "change-me"})
    assert settings.api.public_url.startswith("http://")
