"""infra/systemd: the edge node unit parses, restarts on failure, runs a real command as
an unprivileged user, and its environment file makes valid EdgeSettings."""

from __future__ import annotations

import configparser
import os
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from edge.settings import CameraSource, EdgeSettings
from protocol.settings import load_settings
from tests.infra.deploy import (
    REPO,
    check_env_name,
    cli_envvars,
    dancebooth_args,
    env_names,
    read_dotenv,
    resolve_command,
)

UNIT = REPO / "infra" / "systemd" / "dancebooth-edge.service"
ENV_EXAMPLE = REPO / "infra" / "systemd" / "edge.env.example"


class MultiDict(dict[str, list[str]]):
    """configparser storage keeping every value of a repeated key (systemd allows it)."""

    def __setitem__(self, key: str, value: object) -> None:
        if isinstance(value, list) and key in self:
            self[key].extend(value)
        else:
            super().__setitem__(key, value)  # type: ignore[assignment]


def parse_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(
        strict=False,
        dict_type=MultiDict,
        empty_lines_in_values=False,
        comment_prefixes=("#", ";"),
        interpolation=None,
    )
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text(), source=str(path))
    return parser


def values(unit: configparser.RawConfigParser, section: str, key: str) -> list[str]:
    raw = unit.get(section, key, raw=True, fallback=None)
    return raw.split("\n") if raw else []


def test_unit_restarts_on_failure_as_an_unprivileged_user() -> None:
    unit = parse_unit(UNIT)
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["Restart"] == "on-failure"
    assert int(service["RestartSec"]) > 0
    assert service["User"] not in ("root", "0")
    assert service["EnvironmentFile"].startswith("/etc/dancebooth/")
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    for key, want in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
    }.items():
        assert service[key] == want, key
    assert service["CapabilityBoundingSet"] == ""
    # The camera and the Coral must stay reachable under DevicePolicy=closed.
    allowed = " ".join(values(unit, "Service", "DeviceAllow"))
    assert "char-video4linux" in allowed and "char-usb_device" in allowed


def test_execstart_is_a_real_dancebooth_command() -> None:
    unit = parse_unit(UNIT)
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert resolve_command(dancebooth_args(argv)).name == "run"


def test_writable_state_matches_the_spool_and_model_dirs() -> None:
    unit = parse_unit(UNIT)
    env = dict(v.split("=", 1) for v in values(unit, "Service", "Environment"))
    state = Path("/var/lib") / unit["Service"]["StateDirectory"]
    cache = Path("/var/cache") / unit["Service"]["CacheDirectory"]
    # ProtectSystem=strict: only these directories are writable.
    assert Path(env["DANCEBOOTH_EDGE_SPOOL__PATH"]).is_relative_to(state)
    assert Path(env["DANCEBOOTH_MODEL_DIR"]).is_relative_to(cache)
    assert Path(unit["Service"]["WorkingDirectory"]) == state


def test_dancebooth_variables_are_settings_fields() -> None:
    known = cli_envvars()
    names = env_names(UNIT.read_text()) | env_names(ENV_EXAMPLE.read_text())
    assert "DANCEBOOTH_EDGE_MQTT__TLS__CA_FILE" in names
    for name in names:
        check_env_name(name, known)


def test_environment_file_passes_check_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example is the node's whole configuration: `dancebooth edge check-config` run with
    it and nothing else (no YAML file) accepts it, password included."""
    from click.testing import CliRunner

    from dancebooth.cli import cli

    for key in list(os.environ):
        if key.startswith("DANCEBOOTH_"):
            monkeypatch.delenv(key)
    env = read_dotenv(ENV_EXAMPLE)
    assert "DANCEBOOTH_EDGE_CONFIG" not in env, "no settings file besides edge.env"
    result = CliRunner().invoke(cli, ["edge", "check-config"], env=env)
    assert result.exit_code == 0, result.output
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(EdgeSettings)
    assert settings.node.node == "cam-left" and settings.mqtt.port == 8883
    assert settings.mqtt.username == f"{settings.node.booth}.{settings.node.node}"
    assert settings.mqtt.password is not None
    assert settings.mqtt.tls is not None and isinstance(settings.source, CameraSource)
    assert settings.pose.type == "blazepose"


def test_node_names_agree_with_the_server_env_example() -> None:
    """The node in edge.env.example is one the compose stack makes a broker account for."""
    server = read_dotenv(REPO / "infra" / "env.example")
    node = read_dotenv(ENV_EXAMPLE)
    assert node["DANCEBOOTH_EDGE_NODE__NODE"] in server["BOOTH_NODES"].split(",")
    assert node["DANCEBOOTH_EDGE_NODE__BOOTH"] == server["BOOTH_ID"]
    assert node["DANCEBOOTH_EDGE_MQTT__HOST"] == server["SERVER_HOST"]


def test_install_makes_the_model_cache_before_fetching_models() -> None:
    """`fetch-models` runs as the dancebooth user before systemd's CacheDirectory= exists:
    the documented install creates the directory, owned by that user, first."""
    text = (REPO / "docs" / "booth-runbook.md").read_text().replace("\\\n", " ")
    lines = text.splitlines()
    fetch = next(i for i, ln in enumerate(lines) if "edge fetch-models" in ln)
    made = [
        i
        for i, ln in enumerate(lines[:fetch])
        if ln.strip().startswith("install -d")
        and "-o dancebooth" in ln
        and "/var/cache/dancebooth/models" in ln
    ]
    assert made, "create /var/cache/dancebooth/models (owner dancebooth) before fetch-models"


def test_systemd_analyze_verify_has_no_complaints(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that ExecStart exists: point it at a binary that does.
    text = UNIT.read_text().replace("/opt/dancebooth/venv/bin/dancebooth", "/bin/true")
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    complaints = [ln for ln in result.stderr.splitlines() if UNIT.name in ln]
    assert result.returncode == 0 and not complaints, result.stderr


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a typo in a key is reported."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = tmp_path / UNIT.name
    unit.write_text(
        UNIT.read_text()
        .replace("/opt/dancebooth/venv/bin/dancebooth", "/bin/true")
        .replace("Restart=on-failure", "Restartt=on-failure")
    )
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True)
    assert "Unknown key 'Restartt'" in result.stderr


@pytest.mark.parametrize(("unit_text", "passes"), [("shipped", True), ("bare", False)])
def test_systemd_analyze_security_exposure_is_low(
    tmp_path: Path, unit_text: str, passes: bool
) -> None:
    """Exposure <= 3.0 of 10 (a bare unit scores 9.6, "UNSAFE"): the hardening is in force."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = (
        UNIT.read_text()
        if unit_text == "shipped"
        else "[Service]\nExecStart=/opt/dancebooth/venv/bin/dancebooth edge run\n"
    )
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/opt/dancebooth/venv/bin/dancebooth", "/bin/true"))
    cmd = [analyze, "security", "--offline=true", "--threshold=30", str(unit)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    assert (result.returncode == 0) is passes, result.stdout[-400:] + result.stderr
