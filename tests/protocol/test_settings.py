"""Settings: YAML + environment, unknown keys refused, errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.settings import CloudSettings, S3Storage
from edge.settings import EdgeSettings
from protocol.settings import ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_defaults_need_no_file() -> None:
    settings = load_settings(EdgeSettings)
    assert settings.mqtt.port == 1883
    assert settings.pose.type == "replay"


@pytest.mark.parametrize(
    ("text", "pose"),
    [
        ("source: {type: camera}\n", "blazepose"),  # a real picture: the CPU estimator
        ("source: {type: video, path: clip.mp4}\n", "blazepose"),
        ("source: {type: synthetic}\n", "replay"),  # its keypoints are known
        ("source: {type: camera}\npose: {type: replay}\n", "replay"),  # as asked
        ("source: {type: synthetic}\npose: {type: blazepose}\n", "blazepose"),
    ],
)
def test_pose_backend_follows_the_source_unless_set(tmp_path: Path, text: str, pose: str) -> None:
    assert load_settings(EdgeSettings, write(tmp_path, text)).pose.type == pose


def test_yaml_then_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "node: {booth: b7, node: cam2}\nmqtt: {host: broker, port: 1884}\n")
    monkeypatch.setenv("DANCEBOOTH_EDGE_MQTT__PORT", "8883")
    s = load_settings(EdgeSettings, path)
    assert (s.node.booth, s.node.node, s.mqtt.host, s.mqtt.port) == ("b7", "cam2", "broker", 8883)


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "mqtt: {hostt: broker}\n")
    with pytest.raises(ConfigError, match=r"mqtt\.hostt: Extra inputs are not permitted"):
        load_settings(EdgeSettings, path)


def test_bad_value_is_named_with_its_env_var(tmp_path: Path) -> None:
    path = write(tmp_path, "capture: {fps: -3}\n")
    with pytest.raises(ConfigError, match=r"capture\.fps.*DANCEBOOTH_EDGE_CAPTURE__FPS"):
        load_settings(EdgeSettings, path)


def test_discriminated_groups(tmp_path: Path) -> None:
    path = write(tmp_path, "storage: {type: s3, bucket: booth}\n")
    s = load_settings(CloudSettings, path)
    assert isinstance(s.storage, S3Storage) and s.storage.bucket == "booth"
    with pytest.raises(ConfigError, match="storage"):
        load_settings(CloudSettings, write(tmp_path, "storage: {type: ftp}\n"))


@pytest.mark.parametrize("text", ["- a\n- b\n", "mqtt: [unclosed\n"])
def test_malformed_yaml(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="config file"):
        load_settings(EdgeSettings, write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(EdgeSettings, tmp_path / "nope.yaml")


def test_production_requires_secrets(tmp_path: Path) -> None:
    path = write(tmp_path, "environment: production\n")
    with pytest.raises(ConfigError, match=r"api\.secret_key.*mqtt\.password"):
        load_settings(CloudSettings, path)
    key, password = "k" * 8 + "Zq3xW7pLr9Vt2Yb5Nc8Md4Hs6Jf1Ga0E", "pZq3xW7pLr9Vt"
    ok = write(
        tmp_path,
        f"environment: production\napi: {{secret_key: {key}, public_url: 'https://b.example'}}\n"
        f"mqtt: {{password: {password}}}\ndatabase: {{url: 'postgresql+psycopg://db/booth'}}\n",
    )
    with pytest.raises(ConfigError, match=r"credentials\.cert and credentials\.key") as refused:
        load_settings(CloudSettings, ok)
    assert "DANCEBOOTH_CLOUD_)" not in str(refused.value)  # a whole-model error names no key
    ok.write_text(ok.read_text() + "credentials: {allow_unsigned: true}\n")
    assert load_settings(CloudSettings, ok).api.secret_key is not None


def test_secrets_are_hidden_when_printed(tmp_path: Path) -> None:
    s = load_settings(CloudSettings, write(tmp_path, "mqtt: {password: hunter2}\n"))
    assert "hunter2" not in s.model_dump_json()
