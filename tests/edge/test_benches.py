"""The node's benchmark commands run and print their figures (short runs)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dancebooth.cli import cli
from tests.services import mosquitto_binary


def test_bench_capture_prints_throughput_and_drops() -> None:
    args = ["bench", "edge", "capture", "--seconds", "0.5", "--width", "160", "--height", "120"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "machine:" in result.output
    assert "throughput: 60 frames spooled" in result.output
    assert "live @ 120 fps: 60 frames" in result.output and "dropped" in result.output


def test_bench_capture_names_an_unknown_backend() -> None:
    result = CliRunner().invoke(cli, ["bench", "edge", "capture", "--pose", "nope"])
    assert result.exit_code != 0 and "nope" in result.output


@pytest.mark.services
def test_bench_node_runs_a_node_against_a_private_mosquitto() -> None:
    if mosquitto_binary() is None:
        pytest.skip("mosquitto is not installed")
    args = ["bench", "edge", "node", "--seconds", "1", "--width", "160", "--height", "120"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "captured 30 frames, dropped 0, arrived 30" in result.output
    assert "manifest never" not in result.output
    assert "person mask: in " in result.output  # replay: the synthetic renderer's masks


def test_bench_protocol_prints_the_person_masks_cost() -> None:
    args = ["bench", "protocol", "--packets", "20", "--mask-frames", "6"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "machine:" in result.output and "load average at the end" in result.output
    assert "without mask" in result.output and "mask PNG       encode" in result.output


def test_bench_masking_prints_iou_cpu_and_the_plates_chunks() -> None:
    args = ["bench", "masking", "--size", "320x240", "--visitors", "1", "--frames", "2"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "machine:" in result.output and "320x240: IoU mean" in result.output
    assert "ms CPU per frame" in result.output and "chunk(s)" in result.output
