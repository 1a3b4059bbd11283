"""The renderer end to end with PosePainter, a real model-free Generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cloud.render.errors import GeneratorError
from cloud.render.generator import Generator, Images, PosePainter
from cloud.render.renderer import booth_background, composite, render
from cloud.render.video import RenditionTags, probe, read_frames
from cloud.training.framing import Framing
from tests.cloud.render.music import write_tone
from tests.cloud.render.skeletons import walk

TAGS = RenditionTags(session_id="s-1", model_version="unused", dance="test")


def _dance(n: int, size: int = 128) -> np.ndarray:
    t = np.arange(n)
    xs = size / 2 + size * 0.2 * np.sin(t / 6)
    return walk(xs, np.full(n, size * 0.92), np.full(n, size * 0.75))


def _tags(g: Generator) -> RenditionTags:
    return RenditionTags(session_id="s-1", model_version=g.model_version, dance="test")


def test_renders_every_frame_with_music_progress_and_tags(tmp_path: Path) -> None:
    g = PosePainter(128)
    seen: list[tuple[int, int]] = []
    music = write_tone(tmp_path / "m.wav", 3.0)
    result = render(
        g,
        _dance(30),
        tmp_path / "r.mp4",
        fps=25,
        tags=_tags(g),
        music=music,
        batch_size=8,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(8, 30), (16, 30), (24, 30), (30, 30)]
    info = probe(result.path)
    assert (info.frames, info.width, info.fps, info.audio_codec) == (30, 128, 25.0, "aac")
    assert info.tags["model_version"] == "pose-painter-128"
    assert result.frames == 30 and result.fps > 0
    assert result.flicker.steps == 29
    assert result.flicker.flicker < 0.5  # a model-free painter does not shimmer


def test_temporal_chaining_does_not_depend_on_batch_size(tmp_path: Path) -> None:
    g = PosePainter(128, temporal=True)
    one = render(g, _dance(20), tmp_path / "a.mp4", fps=25, tags=_tags(g), batch_size=1)
    seven = render(g, _dance(20), tmp_path / "b.mp4", fps=25, tags=_tags(g), batch_size=7)
    assert one.flicker == seven.flicker
    plain = PosePainter(128)
    unchained = render(plain, _dance(20), tmp_path / "c.mp4", fps=25, tags=_tags(plain))
    assert unchained.flicker.rendition_change > one.flicker.rendition_change


def test_dancer_only_generators_are_composited_on_the_booth(tmp_path: Path) -> None:
    g = PosePainter(128, dancer_only=True)
    booth = np.zeros((64, 64, 3), np.uint8)
    booth[:, :, 2] = 200  # a red booth, given at another size
    result = render(g, _dance(10), tmp_path / "r.mp4", fps=25, tags=_tags(g), background=booth)
    frame = next(read_frames(result.path))
    assert abs(int(frame[64, 2, 2]) - 200) < 12 and frame[64, 2, 0] < 15
    with pytest.raises(GeneratorError, match="background"):
        render(g, _dance(4), tmp_path / "x.mp4", fps=25, tags=_tags(g))


class _BrokenGenerator(PosePainter):
    """Returns float images: what a careless model adapter would do."""

    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        return super().generate(pose_maps, previous).astype(np.float32)  # type: ignore[return-value]


def test_a_generator_breaking_the_contract_is_named_and_leaves_no_file(tmp_path: Path) -> None:
    g = _BrokenGenerator(128)
    with pytest.raises(GeneratorError, match=r"pose-painter-128 returned .*float32"):
        render(g, _dance(5), tmp_path / "r.mp4", fps=25, tags=TAGS)
    assert not (tmp_path / "r.mp4").exists()


def test_bad_keypoints_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="keypoints"):
        render(PosePainter(128), np.zeros((5, 12, 3)), tmp_path / "r.mp4", fps=25, tags=TAGS)


def test_framing_maps_the_clip_into_the_square() -> None:
    kps = walk(np.array([300.0, 400.0]), np.array([400.0, 400.0]), np.array([200.0, 200.0]))
    f = Framing.around(kps, 640, 480, pad=0.0)
    g = f.to_pixels(kps, 128)
    assert g[..., :2].min() >= -0.5 and g[..., :2].max() <= 128.0
    assert np.allclose(g[..., 2], kps[..., 2])
    with pytest.raises(ValueError, match="confident"):
        Framing.around(np.zeros((3, 17, 3)), 640, 480)


def test_framing_is_the_training_crop(tmp_path: Path) -> None:
    # Rendering maps keypoints into the square the training data was cropped to.
    from cloud.training.data import build_frameset, read_frames
    from tests.cloud.training.dancer import write_session

    shard = write_session(tmp_path, "s1", frames=12)
    metas = [f.meta for f in read_frames([shard])]
    kps = np.stack([m.keypoints_array() for m in metas])
    mine = Framing.around(kps, metas[0].width, metas[0].height)
    trained = build_frameset([shard], 128)
    assert np.allclose(mine.to_pixels(kps, 128), trained.keypoints.numpy())


def test_composite_and_background_helpers() -> None:
    fg = np.zeros((1, 4, 4, 4), np.uint8)
    fg[0, :2, :, :3] = 255
    fg[0, :2, :, 3] = 255
    out = composite(fg, np.full((4, 4, 3), 10, np.uint8))
    assert (out[0, :2] == 255).all() and (out[0, 2:] == 10).all()
    frames = np.full((5, 4, 4, 3), 50, np.uint8)
    frames[1, 0, 0] = 255  # the dancer passes over a pixel once
    assert (booth_background(frames) == 50).all()
