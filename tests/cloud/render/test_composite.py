"""The stage: generator crops placed back into the camera frame over the clean plate."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cloud.render.composite import Backdrop, Stage, median_background
from cloud.render.errors import CompositeError
from cloud.render.generator import PosePainter
from cloud.training.framing import Framing
from common.posemap import pose_map
from tests.cloud.render.skeletons import standing

W, H, RES = 1280, 720, 256


def _plate(seed: int = 0) -> np.ndarray:
    """A textured plate: every pixel differs from its neighbours, so any touch shows."""
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def _dancer(framing: Framing, x: float = 640.0, ankle: float = 650.0) -> np.ndarray:
    """One dancer-only BGRA frame of a standing figure, drawn by the painter."""
    kps = framing.to_pixels(standing(x, ankle, 420.0), RES)
    return PosePainter(RES, dancer_only=True).generate(pose_map(kps, RES, RES)[None], None)[0]


def _reach(stage: Stage, generated: np.ndarray) -> np.ndarray:
    """Where the dancer may touch the frame: the upscaled alpha dilated by 2 margins."""
    f = stage.framing
    up = cv2.resize(generated[:, :, 3], (f.size, f.size), interpolation=cv2.INTER_LINEAR)
    full = np.zeros((H + 2 * f.size, W + 2 * f.size), np.uint8)
    full[f.y0 + f.size : f.y0 + 2 * f.size, f.x0 + f.size : f.x0 + 2 * f.size] = up
    full = full[f.size : f.size + H, f.size : f.size + W]
    k = np.ones((4 * stage.margin + 1,) * 2, np.uint8)
    return np.asarray(cv2.dilate((full > 0).astype(np.uint8), k) > 0)


@pytest.mark.parametrize(
    "framing",
    [Framing(340, 60, 600), Framing(500, -150, 920), Framing(-100, 0, 700)],
    ids=["inside", "taller-than-frame", "past-left-edge"],
)
def test_outside_the_dilated_alpha_the_frame_is_the_plate(framing: Framing) -> None:
    plate = _plate()
    stage = Stage(Backdrop(plate, "plate"), framing, RES)
    gen = _dancer(framing, x=framing.x0 + framing.size / 2)
    out = stage.place_one(gen)
    assert out.shape == (H, W, 3)
    reach = _reach(stage, gen)
    assert reach.any() and not reach.all()
    assert np.array_equal(out[~reach], plate[~reach])  # byte for byte, before the codec
    assert (out[reach] != plate[reach]).any()  # and the dancer is there
    assert stage.counts.frames == 1 and stage.counts.empty_alpha == 0


def test_the_edge_is_soft_and_the_feet_cast_a_shadow() -> None:
    plate = np.full((H, W, 3), 200, np.uint8)
    framing = Framing(340, 60, 600)
    stage = Stage(Backdrop(plate, "plate"), framing, RES)
    gen = _dancer(framing)
    out = stage.place_one(gen)
    row = out[400, :, 0].astype(int)  # across the body: a ramp, not a step
    assert len(np.unique(row)) > 10
    below = out[650 : 650 + stage.margin, 600:680].astype(int)
    assert below.min() < 200  # darker floor right under the feet


def test_a_plate_of_another_size_is_a_clear_error() -> None:
    with pytest.raises(
        CompositeError, match=r"plate is 1280x720 but the session's frames are 640x480"
    ):
        Stage(Backdrop(_plate(), "plate"), Framing(0, 0, 400), RES, frame_size=(640, 480))


def test_an_empty_alpha_gives_the_plate_and_is_counted() -> None:
    plate = _plate(1)
    stage = Stage(Backdrop(plate, "plate"), Framing(340, 60, 600), RES)
    empty = np.zeros((2, RES, RES, 4), np.uint8)
    empty[..., :3] = 255  # colour without alpha must not show
    out = stage.place(empty)
    assert all(np.array_equal(f, plate) for f in out)
    assert stage.counts.empty_alpha == 2 and stage.counts.frames == 2


def test_a_full_frame_generator_fills_its_crop_only() -> None:
    plate = _plate(2)
    framing = Framing(340, 60, 600)
    stage = Stage(Backdrop(plate, "plate"), framing, RES)
    gen = np.full((RES, RES, 3), 40, np.uint8)
    out = stage.place_one(gen)
    inside = out[60 + 20 : 660 - 20, 340 + 20 : 940 - 20]
    assert (inside == 40).all()
    outside = np.ones((H, W), bool)
    outside[60:660, 340:940] = False
    assert np.array_equal(out[outside], plate[outside])


def test_to_camera_inverts_the_framing() -> None:
    framing = Framing(123, -40, 777)
    stage = Stage(Backdrop.plain(W, H), framing, RES)
    kps = standing(600.0, 650.0, 400.0)
    assert np.allclose(stage.to_camera(framing.to_pixels(kps, RES)), kps, atol=1e-3)


def test_odd_sizes_and_bad_backdrops_are_refused() -> None:
    with pytest.raises(CompositeError, match="even"):
        Stage(Backdrop(np.zeros((481, 640, 3), np.uint8), "plate"), Framing(0, 0, 400), RES)
    with pytest.raises(CompositeError, match="BGR"):
        Stage(Backdrop(np.zeros((480, 640), np.uint8), "plate"), Framing(0, 0, 400), RES)


def test_median_background_removes_a_moving_dancer() -> None:
    frames = np.full((5, 8, 8, 3), 50, np.uint8)
    for i in range(5):
        frames[i, :, i] = 255  # the dancer is somewhere else in every frame
    assert (median_background(frames) == 50).all()


def test_the_side_by_side_panel_pans_with_the_dancer() -> None:
    from cloud.render.layout import SideBySide, SkeletonPanel, side_by_side_size
    from tests.cloud.render.skeletons import walk

    stage = Stage(Backdrop.plain(W, H), Framing(190, -90, 900), RES)
    width, height, panel = side_by_side_size(stage)
    assert (width, height, panel) == (1280, 720, 640)
    n = 80
    dancer = walk(np.linspace(250, 1050, n), np.full(n, 650.0), np.full(n, 400.0))
    layout = SideBySide(stage, SkeletonPanel(dancer, panel, height), dancer)
    x0 = layout.x0s
    assert (np.diff(x0) >= 0).all() and x0[0] == 0 and x0[-1] == W - panel
    out = layout.to_output(dancer)
    assert (out[..., 0] > panel).all() and (out[..., 0] < width).all()  # always in view
    frame = layout.compose(np.zeros((H, W, 3), np.uint8), 40)
    assert frame.shape == (720, 1280, 3)
