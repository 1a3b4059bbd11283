"""Reference dances: generation, save/load round trip, hand edits and bad files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from common.reference import (
    REFERENCE_DIR,
    ReferenceDance,
    ReferenceDanceError,
    list_references,
    load_reference,
)
from edge.synthetic.music import decode_audio
from edge.synthetic.routines import ROUTINES, generate_reference


@pytest.fixture(scope="module")
def dance(tmp_path_factory: pytest.TempPathFactory) -> ReferenceDance:
    return generate_reference(
        "disco-steps", width=256, height=256, fps=25, audio_dir=tmp_path_factory.mktemp("audio")
    )


def test_generated_dance_is_beat_aligned_framed_and_has_music(dance: ReferenceDance) -> None:
    assert dance.bpm == 120 and dance.fps == 25 and dance.keypoints.dtype == np.float32
    assert 12 < dance.duration_s < 30
    vis = dance.keypoints[..., 2] > 0
    assert 0.7 < vis.mean() < 1.0  # turns hide joints now and then
    xy = dance.keypoints[..., :2][vis]
    assert xy.min() >= 0 and xy.max() <= 255
    assert dance.audio is not None
    pcm, rate = decode_audio(dance.audio)
    assert abs(len(pcm) / rate - dance.duration_s) < 0.2
    # The kick lands on the beat: energy peaks every 0.5 s at 120 bpm.
    env = np.abs(pcm[: rate * 8])
    hop = rate // 100
    frames = env[: len(env) // hop * hop].reshape(-1, hop).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(frames - frames.mean()))
    freqs = np.fft.rfftfreq(len(frames), d=0.01)
    band = (freqs > 0.5) & (freqs < 5)
    assert freqs[band][spectrum[band].argmax()] == pytest.approx(2.0, abs=0.15)


def test_save_load_round_trip(dance: ReferenceDance, tmp_path: Path) -> None:
    path = dance.save(tmp_path)
    assert {p.name for p in path.iterdir()} == {"dance.json", "keypoints.csv", "music.m4a"}
    assert 10_000 < (path / "music.m4a").stat().st_size < 400_000
    back = load_reference("disco-steps", tmp_path)
    assert (back.name, back.bpm, back.fps, back.width, back.frames) == (
        dance.name,
        dance.bpm,
        dance.fps,
        dance.width,
        dance.frames,
    )
    np.testing.assert_allclose(back.keypoints, dance.keypoints, atol=0.006)
    np.testing.assert_allclose(back.extras, dance.extras, atol=0.006)
    assert back.metadata["moves"] == list(ROUTINES["disco-steps"].moves)
    assert load_reference(path).name == "disco-steps"  # by directory too
    assert [d.name for d in list_references(tmp_path)] == ["disco-steps"]


def test_operator_corrects_a_frame_in_the_csv(dance: ReferenceDance, tmp_path: Path) -> None:
    path = dance.save(tmp_path)
    lines = (path / "keypoints.csv").read_text().splitlines()
    cells = lines[11].split(",")  # frame 10
    cells[1:4] = ["100.5", "42.25", "0"]  # nose moved and marked unseen
    lines[11] = ",".join(cells)
    (path / "keypoints.csv").write_text("\n".join(lines) + "\n")
    back = load_reference(path)
    np.testing.assert_allclose(back.keypoints[10, 0], [100.5, 42.25, 0.0])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.replace("nose_x", "nose_X", 1), "header"),
        (lambda c: c.replace(c.splitlines()[5].split(",")[4], "abc", 1), "line 6"),
        (lambda c: "\n".join(c.splitlines()[:-3]) + "\n", "frame rows"),
    ],
)
def test_broken_csv_is_a_clear_error(
    dance: ReferenceDance, tmp_path: Path, edit: Callable[[str], str], message: str
) -> None:
    path = dance.save(tmp_path)
    csv_path = path / "keypoints.csv"
    csv_path.write_text(edit(csv_path.read_text()))
    with pytest.raises(ReferenceDanceError, match=message):
        load_reference(path)


def test_bad_visibility_and_missing_things(dance: ReferenceDance, tmp_path: Path) -> None:
    path = dance.save(tmp_path)
    meta = json.loads((path / "dance.json").read_text())
    (path / "music.m4a").unlink()
    with pytest.raises(ReferenceDanceError, match="audio"):
        load_reference(path)
    meta["audio"] = None
    (path / "dance.json").write_text(json.dumps(meta))
    assert load_reference(path).audio is None
    with pytest.raises(ReferenceDanceError, match="known: disco-steps"):
        load_reference("no-such-dance", tmp_path)
    with pytest.raises(ValueError):
        ReferenceDance("bad/name", "x", 100, 30, 64, 64, np.zeros((1, 17, 3)), np.zeros((1, 4, 3)))


def test_shipped_dances_load() -> None:
    names = {d.name for d in list_references(REFERENCE_DIR)}
    assert set(ROUTINES) <= names and len(names) >= 3
    left_view = 0
    for name in ROUTINES:
        d = load_reference(name)
        assert d.audio is not None and d.bpm == ROUTINES[name].bpm
        x, y, v = np.moveaxis(d.keypoints, -1, 0)
        outside = (x < 0) | (x > d.width - 1) | (y < 0) | (y > d.height - 1)
        assert not v[outside].any()  # what leaves the view is marked unseen
        assert (v == 0).any()  # turns hide joints in every dance
        left_view += int(outside.any())
    assert left_view >= 1  # and in some, a hand leaves the frame


def test_cli_generate_list_show(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from dancebooth.cli import cli

    runner = CliRunner()
    root = ["--root", str(tmp_path)]
    res = runner.invoke(cli, ["reference", "list", *root])
    assert res.exit_code == 0 and "dancebooth reference generate" in res.output
    res = runner.invoke(
        cli,
        ["reference", "generate", *root, "--name", "spin-groove", "--size", "128", "--fps", "10"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["reference", "list", *root])
    assert "spin-groove" in res.output and "96" in res.output and "music.m4a" in res.output
    res = runner.invoke(cli, ["reference", "show", *root, "spin-groove"])
    assert res.exit_code == 0 and "128x128" in res.output
    res = runner.invoke(cli, ["reference", "generate", *root, "--name", "tango"])
    assert res.exit_code != 0 and "unknown routine" in res.output


def test_shipped_keypoints_match_the_generator(tmp_path: Path) -> None:
    # The committed data is exactly what `dancebooth reference generate` makes.
    name = "wave-party"
    shipped = load_reference(name)
    fresh = generate_reference(
        name, width=shipped.width, height=shipped.height, fps=shipped.fps, audio_dir=tmp_path
    )
    path = fresh.save(tmp_path / "out")
    assert (path / "keypoints.csv").read_bytes() == (
        REFERENCE_DIR / name / "keypoints.csv"
    ).read_bytes()
