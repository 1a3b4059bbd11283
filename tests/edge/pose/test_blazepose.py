"""The real BlazePose path on real photos: landmarks land where anatomy says they must."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.frames import Frame
from edge.pose import create_estimator
from edge.pose.base import Person, PoseError
from edge.pose.blazepose import BlazePose, drop_duplicates
from edge.pose.models import FETCH_HINT, model_path
from edge.pose.roi import RotatedRect
from edge.pose.tracking import FollowDancer
from edge.settings import BlazePoseSettings
from protocol.skeleton import KP, flip_keypoints
from tests.edge.pose import photos
from tests.services import missing


@pytest.fixture(scope="module")
def blazepose() -> Iterator[BlazePose]:
    try:
        model_path("pose_detection.tflite")
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    with BlazePose(BlazePoseSettings()) as bp:
        yield bp


def pose_of(bp: BlazePose, image: np.ndarray, frames: int = 3) -> list[Person]:
    bp.reset()
    people: list[Person] = []
    for seq in range(frames):  # detection, then tracking from the landmarks
        people = bp.estimate(Frame(seq, 0, image))
    return people


def xy(p: Person, name: str) -> np.ndarray:
    return p.keypoints[KP[name], :2]


def assert_frontal_upper_body(p: Person, region: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = region
    nose = xy(p, "nose")
    for name in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder"):
        x, y = xy(p, name)
        assert x0 <= x <= x1 and y0 <= y <= y1, f"{name} at {(x, y)} outside {region}"
        assert p.keypoints[KP[name], 2] > 0.5, f"{name} not confident"
    # Facing the camera: the subject's left is on the image's right.
    assert xy(p, "right_eye")[0] < nose[0] < xy(p, "left_eye")[0]
    assert xy(p, "right_shoulder")[0] < nose[0] < xy(p, "left_shoulder")[0]
    assert xy(p, "right_ear")[0] < xy(p, "left_ear")[0]
    eye_y = max(xy(p, "left_eye")[1], xy(p, "right_eye")[1])
    shoulder_y = min(xy(p, "left_shoulder")[1], xy(p, "right_shoulder")[1])
    assert eye_y < nose[1] + 5  # eyes at or above the nose
    assert nose[1] < shoulder_y  # the nose above the shoulders
    # Shoulders much wider apart than the eyes.
    eyes = np.linalg.norm(xy(p, "left_eye") - xy(p, "right_eye"))
    shoulders = np.linalg.norm(xy(p, "left_shoulder") - xy(p, "right_shoulder"))
    assert shoulders > 2.5 * eyes


def test_astronaut(blazepose: BlazePose) -> None:
    people = pose_of(blazepose, photos.astronaut())
    assert len(people) == 1
    p = people[0]
    assert p.score > 0.8
    assert_frontal_upper_body(p, (40, 40, 400, 400))
    # The face is in the top quarter of the photo, between x 150 and 300.
    assert 150 < xy(p, "nose")[0] < 300 and 60 < xy(p, "nose")[1] < 180
    assert p.extras.shape == (4, 3)


def test_grace_hopper(blazepose: BlazePose) -> None:
    people = pose_of(blazepose, photos.grace_hopper())
    assert len(people) == 1
    assert_frontal_upper_body(people[0], (0, 80, 512, 600))
    assert 200 < xy(people[0], "nose")[0] < 330


def test_tracking_runs_the_detector_once(blazepose: BlazePose) -> None:
    image = photos.astronaut()
    blazepose.reset()
    before = blazepose.stats.detector_runs, blazepose.stats.landmark_runs
    for seq in range(5):
        assert len(blazepose.estimate(Frame(seq, 0, image))) == 1
    assert blazepose.stats.detector_runs - before[0] == 1
    assert blazepose.stats.landmark_runs - before[1] == 5


def test_no_person_in_noise_or_black(blazepose: BlazePose) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert pose_of(blazepose, noise, frames=2) == []
    assert pose_of(blazepose, np.zeros((480, 640, 3), np.uint8), frames=1) == []


def test_two_people_side_by_side_and_the_tracker_follows_the_chosen_one(
    blazepose: BlazePose,
) -> None:
    image, grace_x = photos.side_by_side()
    follow = FollowDancer(blazepose)
    follow.reset()
    first = follow(Frame(0, 0, image))
    assert first.people_seen == 2
    noses = sorted(float(xy(p, "nose")[0]) for p in blazepose.estimate(Frame(1, 0, image)))
    assert noses[0] < grace_x - 128 and noses[1] > grace_x  # one in each photo
    assert first.person is not None
    chosen_left = xy(first.person, "nose")[0] < grace_x
    for seq in range(2, 8):  # the same person stays the dancer, whatever the order
        sel = follow(Frame(seq, 0, image))
        assert sel.person is not None and sel.people_seen == 2 and sel.tracked
        assert (xy(sel.person, "nose")[0] < grace_x) == chosen_left


def test_bad_frame_is_refused_and_tracking_survives(blazepose: BlazePose) -> None:
    image = photos.astronaut()
    pose_of(blazepose, image, frames=2)
    runs = blazepose.stats.detector_runs
    for bad in (
        np.zeros((480, 640), np.uint8),
        np.zeros((480, 640, 3), np.float32),
        np.zeros((8, 8, 3), np.uint8),
    ):
        with pytest.raises(ValueError, match="frame image"):
            blazepose.estimate(Frame(9, 0, bad))
    assert len(blazepose.estimate(Frame(10, 0, image))) == 1
    assert blazepose.stats.detector_runs == runs  # still tracking: no re-detection


def test_registry_builds_blazepose(blazepose: BlazePose) -> None:
    est = create_estimator(BlazePoseSettings())
    assert isinstance(est, BlazePose)
    est.close()


def test_missing_models_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(PoseError, match="dancebooth edge fetch-models"):
        BlazePose(BlazePoseSettings(model_dir=tmp_path))


def test_mirrored_photo_mirrors_left_and_right(blazepose: BlazePose) -> None:
    image = photos.grace_hopper()
    (p,) = pose_of(blazepose, image)
    (m,) = pose_of(blazepose, np.ascontiguousarray(image[:, ::-1]))
    expected = flip_keypoints(p.keypoints, image.shape[1])
    # Face and shoulders (COCO 0-6), which the photo shows clearly; their confidence
    # varies with the OpenCV build (the mirrored left shoulder scores 0.89 with
    # opencv-python-headless 5.0 and 0.75 with 5.1), so the geometry is what must hold.
    face_and_shoulders = slice(0, 7)
    assert (p.keypoints[face_and_shoulders, 2] > 0.5).all()
    assert (m.keypoints[face_and_shoulders, 2] > 0.5).all()
    err = np.linalg.norm(
        m.keypoints[face_and_shoulders, :2] - expected[face_and_shoulders, :2], axis=1
    )
    assert err.max() < 0.05 * image.shape[1], err


@pytest.mark.parametrize("degrees", [-90, 60, 180])  # a fall, a lean, a handstand
def test_leaning_person_is_followed_through_the_rotation(
    blazepose: BlazePose, degrees: float
) -> None:
    image = photos.astronaut()
    (upright,) = pose_of(blazepose, image)
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 0.8)
    rotated = cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    (p,) = pose_of(blazepose, rotated)
    expected = upright.keypoints[:, :2] @ m[:, :2].T + m[:, 2]
    err = np.linalg.norm(p.keypoints[:, :2] - expected, axis=1)
    face = [KP[n] for n in ("nose", "left_eye", "right_eye")]
    shoulders = [KP["left_shoulder"], KP["right_shoulder"]]
    # The face is sharp; the space suit's shoulders are vaguer (and vary more).
    assert err[face].max() < 0.03 * w, err[face]
    assert err[shoulders].max() < 0.1 * w, err[shoulders]


def test_converged_tracks_keep_the_most_confident() -> None:
    kps = np.zeros((17, 3), np.float32)
    weak = (Person(kps, 0.6), RotatedRect(100, 100, 200, 0.0))
    strong = (Person(kps, 0.9), RotatedRect(105, 100, 200, 0.1))
    other = (Person(kps, 0.7), RotatedRect(400, 100, 200, 0.0))
    kept = drop_duplicates([weak, other, strong])
    assert [p.score for p, _ in kept] == [0.9, 0.7]


def test_person_leaving_and_coming_back(blazepose: BlazePose) -> None:
    image = photos.astronaut()
    empty = np.full_like(image, 90)
    blazepose.reset()
    seen = [
        len(blazepose.estimate(Frame(i, 0, img)))
        for i, img in enumerate([image, image, empty, empty, image, image])
    ]
    assert seen == [1, 1, 0, 0, 1, 1]


def test_degenerate_track_is_dropped_and_the_person_found_again(blazepose: BlazePose) -> None:
    image = photos.astronaut()
    pose_of(blazepose, image, frames=1)
    runs = blazepose.stats.detector_runs
    blazepose._tracks = [RotatedRect(200.0, 200.0, float("nan"), 0.0)]
    assert len(blazepose.estimate(Frame(5, 0, image))) == 1
    assert blazepose.stats.detector_runs == runs + 1


def test_person_mask_lies_on_the_person(blazepose: BlazePose) -> None:
    (p,) = pose_of(blazepose, photos.astronaut())
    assert p.mask is not None and p.mask.shape == (128, 128) and p.mask.dtype == np.uint8
    scale = 128 / 512
    for name in ("nose", "left_shoulder", "right_shoulder", "left_eye"):
        x, y = (xy(p, name) * scale).astype(int)
        assert p.mask[y, x] > 200, f"{name} is not on the mask"
    assert p.mask[:8, :8].max() < 50 and p.mask[:8, -8:].max() < 50  # sky and wall


def test_person_mask_matches_the_synthetic_renderers_exact_mask(blazepose: BlazePose) -> None:
    from edge.synthetic.visitor import make_visitor

    blazepose.reset()
    ious = []
    for f in make_visitor(3, 1.0).frames(640, 480, 10, 1.0, masks=True):
        (p,) = blazepose.estimate(f)
        assert p.mask is not None and f.truth_mask is not None
        assert p.mask.shape == f.truth_mask.shape == (96, 128)
        a, b = p.mask > 127, f.truth_mask > 127
        ious.append((a & b).sum() / (a | b).sum())
    assert np.median(ious) > 0.85, ious  # measured 0.88-0.97


def test_person_mask_can_be_turned_off() -> None:
    try:
        model_path("pose_landmark_full.tflite")
    except PoseError:
        missing("the BlazePose models", FETCH_HINT)
    with BlazePose(BlazePoseSettings(person_mask=False)) as bp:
        (p,) = pose_of(bp, photos.astronaut(), frames=2)
        assert p.mask is None
