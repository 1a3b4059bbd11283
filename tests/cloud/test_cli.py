"""``dancebooth cloud operator add`` and ``cloud worker --once`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Operator
from dancebooth.cli import cli

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DANCEBOOTH_CLOUD_DATABASE__URL": db_url,
        "DANCEBOOTH_CLOUD_STORAGE__TYPE": "local",
        "DANCEBOOTH_CLOUD_STORAGE__ROOT": str(tmp_path / "store"),
    }


def test_operator_add_hashes_and_refuses_duplicates_and_short_passwords(
    db_url: str, tmp_path: Path
) -> None:
    env = _env(db_url, tmp_path)
    runner = CliRunner()
    short = runner.invoke(cli, ["cloud", "operator", "add", "bob"], input="short\nshort\n", env=env)
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    ok = runner.invoke(
        cli,
        ["cloud", "operator", "add", "bob"],
        env={**env, "DANCEBOOTH_OPERATOR_PASSWORD": "a long passphrase"},
    )
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(
        cli,
        ["cloud", "operator", "add", "bob"],
        env={**env, "DANCEBOOTH_OPERATOR_PASSWORD": "a long passphrase"},
    )
    assert again.exit_code != 0 and "already exists" in again.output
    bad = runner.invoke(
        cli,
        ["cloud", "operator", "add", "bad/name"],
        env={**env, "DANCEBOOTH_OPERATOR_PASSWORD": "a long passphrase"},
    )
    assert bad.exit_code != 0 and "invalid operator name" in bad.output
    with session_factory(make_engine(db_url))() as db:
        stored = db.scalar(select(Operator.password_hash).where(Operator.name == "bob"))
    assert stored is not None and stored.startswith("$argon2") and "passphrase" not in stored


BOOTH_128 = Path(__file__).resolve().parents[2] / "models" / "booth-128.safetensors"


def test_worker_once_with_an_empty_queue(db_url: str, tmp_path: Path) -> None:
    env = {**_env(db_url, tmp_path), "DANCEBOOTH_CLOUD_TRAINING__BOOTH_CHECKPOINT": str(BOOTH_128)}
    result = CliRunner().invoke(cli, ["cloud", "worker", "--once"], env=env)
    assert result.exit_code == 0, result.output
    assert "waiting for jobs" in result.output


@pytest.mark.parametrize(
    ("checkpoint", "resolution", "says"),
    [
        (None, "128", "training.booth_checkpoint is not set"),
        ("missing.safetensors", "128", "no booth checkpoint at"),
        ("garbage.safetensors", "128", "corrupt"),
        (str(BOOTH_128), "256", "is 128 px but training.resolution is 256"),
    ],
)
def test_worker_refuses_to_start_without_a_usable_booth_checkpoint(
    db_url: str, tmp_path: Path, checkpoint: str | None, resolution: str, says: str
) -> None:
    """Every job would fail: the worker says so at start instead, and how to provision one."""
    (tmp_path / "garbage.safetensors").write_bytes(b"not a checkpoint")
    env = {**_env(db_url, tmp_path), "DANCEBOOTH_CLOUD_TRAINING__RESOLUTION": resolution}
    if checkpoint is not None:
        path = checkpoint if "/" in checkpoint else str(tmp_path / checkpoint)
        env["DANCEBOOTH_CLOUD_TRAINING__BOOTH_CHECKPOINT"] = path
    result = CliRunner().invoke(cli, ["cloud", "worker", "--once"], env=env)
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert "waiting for jobs" not in result.output
