"""``dancebooth cloud broker-config`` with a deployment's cloud and mirror passwords (compose's
.env)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from cloud.mqtt.accounts import BrokerAccounts, write_broker_config
from dancebooth.cli import cli
from protocol.errors import ProtocolError


def check_hash(line: str, password: str) -> bool:
    """Verify a passwd line the way Mosquitto does (PBKDF2-SHA512)."""
    _user, _, h = line.partition(":")
    _, kind, iterations, salt, digest = h.split("$")
    assert kind == "7"
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), base64.b64decode(salt), int(iterations))
    return mine == base64.b64decode(digest)


def passwd_lines(out: Path) -> dict[str, str]:
    return {ln.split(":")[0]: ln for ln in (out / "passwd").read_text().splitlines()}


def test_cloud_password_from_the_environment_wins_and_node_passwords_stay(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "cloud",
        "broker-config",
        "--booth",
        "booth1",
        "--nodes",
        "node1,node2",
        "--out",
        str(tmp_path),
    ]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    before = yaml.safe_load((tmp_path / "credentials.yaml").read_text())

    env = {"DANCEBOOTH_CLOUD_MQTT__PASSWORD": "from-dotenv", "MQTT_MIRROR_PASSWORD": "mirror-pw"}
    again = runner.invoke(cli, args, env=env)
    assert again.exit_code == 0, again.output
    after = yaml.safe_load((tmp_path / "credentials.yaml").read_text())
    assert after["cloud"] == "from-dotenv" != before["cloud"]
    assert after["mirror"] == "mirror-pw" != before["mirror"]
    assert after["booth1.node1"] == before["booth1.node1"]
    lines = passwd_lines(tmp_path)
    assert check_hash(lines["cloud"], "from-dotenv")
    assert check_hash(lines["mirror"], "mirror-pw")
    assert check_hash(lines["booth1.node2"], before["booth1.node2"])
    assert not check_hash(lines["cloud"], before["cloud"])


def test_unknown_accounts_and_empty_passwords_are_refused(tmp_path: Path) -> None:
    accounts = BrokerAccounts("booth1", ("node1",))
    with pytest.raises(ProtocolError, match="no such broker account: intruder"):
        write_broker_config(accounts, tmp_path, {"intruder": "x"})
    with pytest.raises(ProtocolError, match="empty password"):
        write_broker_config(accounts, tmp_path, {"cloud": ""})
    assert not (tmp_path / "passwd").exists()  # nothing half-written
    args = [
        "cloud",
        "broker-config",
        "--booth",
        "booth1",
        "--nodes",
        "node1",
        "--out",
        str(tmp_path),
        "--cloud-password",
        "",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0 and "empty password" in result.output
