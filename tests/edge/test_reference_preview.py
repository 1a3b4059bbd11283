"""``reference show NAME --video``: the skeleton over the kept video, repaired joints
marked; and ``--mirror``'s copy, left and right swapped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from common.reference import load_reference
from common.reference_add import AddOptions
from dancebooth.cli import cli
from edge.reference_add import add_reference
from edge.reference_preview import REPAIRED
from protocol.skeleton import KP
from tests.edge import reference_fixtures as fx
from tests.edge.videos import write_video

av = pytest.importorskip("av")


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@pytest.fixture()
def added(tmp_path: Path) -> Path:
    """A dance whose left wrist was lost for 0.3 s, kept with a mirrored copy; the video
    is a horizontal ramp so a mirror image is told apart."""
    kps = fx.dancer(2.5)
    kps[30:39, KP["left_wrist"]] = 0.0  # not found: no confidence, no position
    ramp = np.tile(np.linspace(0, 255, fx.W, dtype=np.uint8)[None, :, None], (fx.H, 1, 3))
    video = write_video(tmp_path / "v.mp4", images=[ramp] * len(kps), audio=None)
    np.save(tmp_path / "k.npy", kps)
    options = AddOptions(
        root=tmp_path / "d", backend="replay", keypoints=tmp_path / "k.npy", mirror=True
    )
    add_reference(video, "wave", options)
    return tmp_path / "d"


def test_show_renders_the_skeleton_with_repaired_joints_in_red(added: Path, tmp_path: Path) -> None:
    out = tmp_path / "preview.mp4"
    result = CliRunner().invoke(
        cli, ["reference", "show", "wave", "--root", str(added), "--video", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "dancer found in 100% of frames" in result.output  # the stored report
    dance = load_reference("wave", added)
    frames = _decode(out)
    assert len(frames) == dance.frames and frames[0].shape == (fx.H, fx.W, 3)
    assert dance.repaired is not None and dance.repaired[33, KP["left_wrist"]]
    x, y = np.round(dance.keypoints[33, KP["left_wrist"], :2]).astype(int)
    ring = frames[33][max(0, y - 8) : y + 9, max(0, x - 8) : x + 9].reshape(-1, 3).astype(int)
    red = (ring[:, 2] > 150) & (ring[:, 0] < 110) & (ring[:, 1] < 110)
    assert red.any()  # a red ring around the repaired wrist
    assert REPAIRED[2] > 200


def test_mirror_swaps_left_and_right_and_flips_the_video(added: Path) -> None:
    dance, mirror = load_reference("wave", added), load_reference("wave-mirror", added)
    np.testing.assert_allclose(
        mirror.keypoints[:, KP["right_wrist"], 0],
        fx.W - 1 - dance.keypoints[:, KP["left_wrist"], 0],
        atol=1e-3,
    )
    assert mirror.repaired is not None and mirror.repaired[33, KP["right_wrist"]]
    assert mirror.metadata["mirror_of"] == "wave"
    assert mirror.video is not None and dance.video is not None
    original, flipped = _decode(dance.video)[5], _decode(mirror.video)[5]
    assert np.abs(flipped.astype(int) - original[:, ::-1].astype(int)).mean() < 4
    assert np.abs(flipped.astype(int) - original.astype(int)).mean() > 50


def test_cli_takes_the_person_by_index_or_rule(tmp_path: Path) -> None:
    video, npy = fx.clip(tmp_path, "pair", fx.with_second_person(fx.dancer(2.5)), audio=None)
    base = ["reference", "add", str(video), "--root", str(tmp_path / "d"), "--backend", "replay"]
    base += ["--keypoints", str(npy)]
    refused = CliRunner().invoke(cli, base)
    assert refused.exit_code == 3 and "pick the dancer with --person" in refused.output
    for person in ("1", "central"):
        ok = CliRunner().invoke(cli, [*base, "--person", person, "--name", f"p{person}"])
        assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(cli, [*base, "--person", "7", "--name", "p7"])
    assert bad.exit_code == 1 and "use 0 to 1" in bad.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["p1", "pcentral"]
