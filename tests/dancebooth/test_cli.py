"""The ``dancebooth`` command: help everywhere, version, config errors, edge without torch."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dancebooth import __version__
from dancebooth.cli import COMMANDS, cli

REPO = Path(__file__).resolve().parents[2]


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_help_lists_every_group_and_each_group_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for name in COMMANDS:
        assert name in top.output
        sub = runner.invoke(cli, [name, "--help"])
        assert sub.exit_code == 0, sub.output
        assert "Usage:" in sub.output


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text("spool: {max_mb: 1}\n")
    result = CliRunner().invoke(cli, ["edge", "check-config", "-c", str(path)])
    assert result.exit_code == 1
    assert "spool.max_mb" in result.output


def test_log_json_writes_one_object_per_line(capsys: object) -> None:
    import json
    import logging

    from dancebooth.logs import configure_logging

    configure_logging(verbosity=1, as_json=True)
    logging.getLogger("edge.test").debug("hello %s", "booth")
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    entry = json.loads(err.strip().splitlines()[-1])
    assert entry["msg"] == "hello booth" and entry["level"] == "debug"
    configure_logging()
