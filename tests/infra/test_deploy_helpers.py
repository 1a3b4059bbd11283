"""The checkers the deployment tests rely on catch what they are meant to catch."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.infra.deploy import (
    DeployError,
    MissingVariableError,
    cli_envvars,
    dancebooth_args,
    interpolate,
    is_secret,
    parse_dockerfile,
    read_dotenv,
    resolve_command,
    settings_field,
)


def test_resolve_command_finds_leaves_and_parses_their_options() -> None:
    assert resolve_command(["-v", "cloud", "migrate"]).name == "migrate"
    assert resolve_command(["edge", "run", "--drain"]).name == "run"
    with pytest.raises(DeployError, match="No such command"):
        resolve_command(["cloud", "uplaoder"])
    with pytest.raises(DeployError, match="No such option"):
        resolve_command(["cloud", "migrate", "--frobnicate"])
    with pytest.raises(DeployError, match="Missing option '--booth'"):
        resolve_command(["cloud", "broker-config", "--nodes", "n1", "--out", "x"])
    with pytest.raises(DeployError, match="names no command"):
        resolve_command(["cloud"])


def test_settings_field_walks_nested_groups_and_unions() -> None:
    assert settings_field("DANCEBOOTH_CLOUD_API__SECRET_KEY")[1] == SecretStr | None
    assert is_secret(settings_field("DANCEBOOTH_CLOUD_MQTT__PASSWORD")[1])
    assert not is_secret(settings_field("DANCEBOOTH_CLOUD_MQTT__USERNAME")[1])
    # A member of the discriminated union (S3 storage) has the key; local storage does not.
    settings_field("DANCEBOOTH_CLOUD_STORAGE__ENDPOINT_URL")
    settings_field("DANCEBOOTH_EDGE_MQTT__TLS__CA_FILE")  # through Optional[TlsSettings]
    for bad in (
        "DANCEBOOTH_CLOUD_API__SECRET",
        "DANCEBOOTH_EDGE_MQTT__TLS__CA",
        "DANCEBOOTH_CLOUDY_BOOTH",
        "DANCEBOOTH_CLOUD_BOOTH__NAME",
    ):
        with pytest.raises(DeployError):
            settings_field(bad)


def test_cli_envvars_are_what_the_commands_read() -> None:
    found = cli_envvars()
    assert {"DANCEBOOTH_CLOUD_CONFIG", "DANCEBOOTH_EDGE_CONFIG", "DANCEBOOTH_MODEL_DIR"} <= found


def test_interpolation_like_compose() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert interpolate("${A}-${A:-x}-${EMPTY:-d}-${EMPTY-d}-${NONE:-n}-$$A", env) == "1-1-d--n-$A"
    assert interpolate("${A:?need A}", env) == "1"
    with pytest.raises(MissingVariableError, match="EMPTY is missing a value: set it"):
        interpolate("${EMPTY:?set it}", env)


def test_dotenv_and_dockerfile_parsing(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text('# c\nA=1\nB="x <y@z>"\n\n')
    assert read_dotenv(tmp_path / ".env") == {"A": "1", "B": "x <y@z>"}
    (tmp_path / "bad.env").write_text("JUST A LINE\n")
    with pytest.raises(DeployError, match="not KEY=value"):
        read_dotenv(tmp_path / "bad.env")
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11 AS build\nRUN a \\\n    # note\n    && b\nFROM build\nCOPY x y\n"
    )
    steps = parse_dockerfile(tmp_path / "Dockerfile")
    assert [(s.keyword, s.stage) for s in steps] == [
        ("FROM", "build"),
        ("RUN", "build"),
        ("FROM", "build"),
        ("COPY", "build"),
    ]
    assert steps[1].args == "a  && b"
    assert dancebooth_args(["tini", "--", "/opt/venv/bin/dancebooth", "edge", "run"]) == [
        "edge",
        "run",
    ]
    with pytest.raises(DeployError):
        dancebooth_args(["python", "-m", "http.server"])
