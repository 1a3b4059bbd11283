"""``dancebooth render`` from the command line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from cloud.render.video import probe
from dancebooth.cli import cli
from tests.cloud.render.music import write_tone
from tests.cloud.render.skeletons import walk


def _inputs(tmp_path: Path) -> list[str]:
    n = 40
    t = np.arange(n)
    ref = walk(300 + 60 * np.sin(t / 8), 380 + 30 * np.sin(t / 20), 250 + 20 * np.sin(t / 20))
    vis = walk(np.full(n, 640.0), np.full(n, 600.0), np.full(n, 420.0))
    np.save(tmp_path / "ref.npy", ref)
    np.save(tmp_path / "vis.npy", vis)
    music = write_tone(tmp_path / "m.wav", 2.0)
    return [
        "render",
        "--visitor-keypoints",
        str(tmp_path / "vis.npy"),
        "--capture-size",
        "1280x720",
        "--reference-keypoints",
        str(tmp_path / "ref.npy"),
        "--fps",
        "20",
        "--music",
        str(music),
        "--dance",
        "wave",
    ]


def test_render_writes_a_tagged_mp4_and_applies_the_gate(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    sheet = tmp_path / "sheet.png"
    args = [*_inputs(tmp_path), "--out", str(out), "--held-out-ssim", "0.2", "--sheet", str(sheet)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "40 frames at 1280x720 (solo, over the plain)" in result.output
    assert "needs_review" in result.output and "SSIM 0.200" in result.output
    info = probe(out)
    assert info.frames == 40 + 30 + 20  # the dance and the 1.5 s intro and 1 s outro cards
    assert (info.width, info.height) == (1280, 720)
    assert info.tags["session_id"] == "local"
    assert info.tags["dance"] == "wave" and info.audio_codec == "aac"
    img = cv2.imread(str(sheet))
    assert img.shape == (2 * (180 + 32), 4 * 320, 3)


def test_render_takes_the_layout_and_a_plate(tmp_path: Path) -> None:
    plate = tmp_path / "plate.png"
    cv2.imwrite(str(plate), np.full((720, 1280, 3), 90, np.uint8))
    out = tmp_path / "out.mp4"
    args = [*_inputs(tmp_path), "--out", str(out), "--layout", "side-by-side"]
    args += ["--plate", str(plate), "--generator", "painter-alpha", "--resolution", "256"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "(side-by-side, over the plate)" in result.output
    assert "note: the reference has no video of its own" in result.output
    assert (probe(out).width, probe(out).height) == (1280, 720)
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.full((480, 640, 3), 90, np.uint8))
    bad = CliRunner().invoke(
        cli, [*args[:-6], "--plate", str(small), "--generator", "painter-alpha"]
    )
    assert (
        bad.exit_code != 0
        and "plate is 640x480 but the session's frames are 1280x720" in bad.output
    )


def test_bad_keypoint_files_are_clear_errors(tmp_path: Path) -> None:
    args = _inputs(tmp_path)
    np.save(tmp_path / "vis.npy", np.zeros((10, 12, 3)))
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o.mp4")])
    assert result.exit_code != 0 and "need [T, 17, 3]" in result.output
    (tmp_path / "vis.npy").write_text("not numpy")
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o.mp4")])
    assert result.exit_code != 0 and "not a .npy" in result.output
    np.save(tmp_path / "vis.npy", np.zeros((10, 17, 3)))  # nothing confident
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o.mp4")])
    assert result.exit_code != 0 and "cannot render" in result.output
    assert not (tmp_path / "o.mp4").exists()
