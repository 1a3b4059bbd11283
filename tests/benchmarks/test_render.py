"""``dancebooth bench render`` runs and prints its figures (speed is not asserted)."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from benchmarks.render import bench_dance
from cloud.render.normalize import body_heights
from dancebooth.cli import cli


def test_bench_prints_a_row_per_generator_and_size() -> None:
    args = ["bench", "render", "--frames", "12", "--size", "128", "--generator", "painter"]
    args += ["--generator", "painter-alpha", "--camera", "640x480"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "machine:" in result.output
    rows = [line.split() for line in result.output.splitlines() if line.startswith("pose-")]
    # name, size, video, render fps, clip time + unit, generate, place, encode fps, warm-up s
    assert [(r[0], r[2]) for r in rows] == [
        ("pose-painter-128", "128x128"),
        ("pose-painter-128", "640x480"),
        ("pose-painter-128-alpha", "128x128"),
        ("pose-painter-128-alpha", "640x480"),
    ]
    assert all(len(r) == 10 for r in rows)
    assert rows[0][7] == "-" and float(rows[1][7]) > 0  # compositing only at the camera's size


def test_bench_dance_stays_in_frame_and_moves() -> None:
    d = bench_dance(50, 128)
    assert d[..., :2].min() >= 0 and d[..., :2].max() < 128
    assert np.abs(np.diff(d[..., :2], axis=0)).mean() > 0.5
    assert np.isfinite(body_heights(d)).all()
