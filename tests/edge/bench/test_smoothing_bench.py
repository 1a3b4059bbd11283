"""``dancebooth bench edge smoothing`` scores the real motion-capture set per clip and
names the worst clip of each goal (a short run: one noise seed)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dancebooth.cli import cli
from edge.bench.realmotion import SCORED, TUNING


@pytest.mark.slow
def test_real_set_prints_every_clip_and_the_worst_one() -> None:
    args = ["bench", "edge", "smoothing", "--set", "real", "--seeds", "1", "--no-extras"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "real: 7 motion-capture clips × 1 noise seeds" in out
    table = out[out.index("clip ") :]
    for clip in SCORED:
        assert f"\n{clip} " in table
    for clip in TUNING:  # scored clips only: the defaults were tuned on these
        assert f"\n{clip} " not in table
    assert "online acceleration error, worst clip " in out
    assert "offline mean joint error, worst clip " in out
    assert "synthetic:" not in out


def test_an_unknown_set_is_refused() -> None:
    result = CliRunner().invoke(cli, ["bench", "edge", "smoothing", "--set", "nope"])
    assert result.exit_code != 0 and "nope" in result.output
