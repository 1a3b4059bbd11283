"""``dancebooth bench train --part quality --guided`` on a tiny budget: it renders a free
and a guided clip per visitor, fine-tunes on each, and prints the figures the issue asks
for (speed and quality are not asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from dancebooth.cli import cli


@pytest.mark.slow
def test_guided_bench_prints_coverage_and_both_figures(tmp_path: Path) -> None:
    args = ["bench", "train", "--part", "quality", "--guided", "--visitors", "1"]
    args += ["--budget", "4", "--capture", "2", "--evals", "2", "--score-resolution", "128"]
    args += ["--plot", str(tmp_path / "curves.png"), "--ceiling"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "free clip 2 s, guided clip 20 s" in out  # the guided capture lasts the dance
    assert "| visitor-0000 | disco-steps |" in out
    assert "free-dance transfer dancer SSIM at 4 s: " in out
    assert "guided transfer dancer SSIM at 4 s: " in out
    assert "perfect-imitation (ceiling) transfer dancer SSIM at 4 s: " in out
    assert (tmp_path / "train-guided-coverage.png").is_file()


def test_guided_needs_the_quality_part() -> None:
    result = CliRunner().invoke(cli, ["bench", "train", "--part", "throughput", "--guided"])
    assert result.exit_code != 0 and "--guided goes with --part quality" in result.output
