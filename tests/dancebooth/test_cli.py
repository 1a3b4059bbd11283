"""The ``dancebooth`` command: help everywhere, version, config errors, edge without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
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


def test_edge_runs_without_torch() -> None:
    # A fresh interpreter where torch, lightning and the cloud package cannot be
    # imported at all, as on a booth node installed with the `edge` extra only.
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {"torch", "lightning", "cloud", "sqlalchemy"}:
                    raise ImportError(f"blocked: {name}")
                return None
        sys.meta_path.insert(0, Block())
        import edge, edge.settings, edge.posemap, edge.pose, edge.frames
        from dancebooth.cli import cli
        try:
            cli(["edge", "--help"], prog_name="dancebooth")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        heavy = {"torch", "lightning", "cloud"}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        assert not loaded, loaded
        print("EDGE-OK")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "EDGE-OK" in out.stdout


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
