"""Synthetic captures of the kinds capture QA must tell apart: a visitor dancing along
with a reference routine (:mod:`edge.synthetic.dancealong`; ``exact``: a perfect
imitation), one standing still, one cut off at the knees by the camera, one
dancing a different routine, one dancing free-style. Each is what a node would upload:
keypoints through the ``replay`` backend's noise model, and a few rendered JPEGs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import cv2
import numpy as np

from edge.frames import Keypoints
from edge.synthetic.body import pose
from edge.synthetic.camera import Camera
from edge.synthetic.choreography import Choreography, KeyframeBuilder
from edge.synthetic.dancealong import dance_along
from edge.synthetic.dances import freestyle, routine
from edge.synthetic.noise import NoiseModel
from edge.synthetic.renderer import Renderer
from edge.synthetic.routines import ROUTINES
from edge.synthetic.view import observe
from edge.synthetic.visitor import frame_count, make_visitor
from protocol.skeleton import NUM_KEYPOINTS

CaptureKind = Literal["along", "exact", "still", "knees", "other", "freestyle"]
CAPTURE_KINDS: Final[tuple[str, ...]] = ("along", "exact", "still", "knees", "other", "freestyle")


@dataclass(frozen=True)
class SyntheticCapture:
    """One node's capture: noisy keypoints ``[T, 17, 3]`` and JPEGs of some frames."""

    kind: str
    keypoints: Keypoints
    width: int
    height: int
    fps: float
    jpegs: tuple[bytes, ...]
    jpeg_frames: tuple[int, ...]


def knee_camera(width: int, height: int) -> Camera:
    """A camera zoomed in and raised so its image ends about at the dancer's knees."""
    return Camera(width, height, fov_y_deg=24.0, eye_height=1.2, pitch_deg=0.0)


def standing_still(duration_s: float) -> Choreography:
    """Standing at the floor mark, arms down, for the whole clip."""
    kb = KeyframeBuilder()
    kb.add(0.0, {})
    kb.add(duration_s + 1.0, {})
    return kb.build()


def _other_routine(dance: str) -> str:
    names = sorted(ROUTINES)
    return names[(names.index(dance) + 1) % len(names)]


def choreography_for(kind: str, dance: str, seed: int, duration_s: float) -> Choreography:
    """What a visitor of ``kind`` dances while ``dance`` (a shipped routine) plays."""
    if dance not in ROUTINES:
        raise ValueError(f"no shipped routine {dance!r} (known: {', '.join(sorted(ROUTINES))})")
    if kind in ("along", "knees", "exact"):
        r = ROUTINES[dance]
        exact = routine(r.seed, r.bpm, r.moves)
        return exact if kind == "exact" else dance_along(exact, seed, duration_s)
    if kind == "other":
        r = ROUTINES[_other_routine(dance)]
        return dance_along(routine(r.seed, r.bpm, r.moves), seed, duration_s)
    if kind == "still":
        return standing_still(duration_s)
    if kind == "freestyle":
        return freestyle(seed, duration_s)
    raise ValueError(f"unknown capture kind {kind!r} (known: {', '.join(CAPTURE_KINDS)})")


def synthetic_capture(
    kind: str,
    dance: str,
    seed: int = 0,
    *,
    width: int = 640,
    height: int = 480,
    fps: float = 30.0,
    duration_s: float = 15.0,
    jpegs: int = 12,
    quality: int = 85,
) -> SyntheticCapture:
    """Visitor ``seed`` captured as ``kind`` while the reference ``dance`` plays."""
    visitor = make_visitor(seed, duration_s)
    choreography = choreography_for(kind, dance, seed, duration_s)
    camera = knee_camera(width, height) if kind == "knees" else Camera(width, height)
    n = frame_count(fps, duration_s)
    posed = pose(visitor.shape, choreography.sample(np.arange(n) / fps))
    truth = observe(posed, visitor.shape, camera).astype(np.float32)[:, :NUM_KEYPOINTS]
    noisy = NoiseModel().apply(truth, seed)
    renderer = Renderer(width, height, visitor.appearance, visitor.shape, camera=camera)
    picks = tuple(sorted({int(i) for i in np.linspace(0, n - 1, min(jpegs, n)).round()}))
    images = []
    for i in picks:
        ok, buf = cv2.imencode(
            ".jpg", renderer.render(posed, i), [cv2.IMWRITE_JPEG_QUALITY, quality]
        )
        if not ok:
            raise RuntimeError("OpenCV could not encode a JPEG")
        images.append(buf.tobytes())
    return SyntheticCapture(kind, noisy, width, height, fps, tuple(images), picks if jpegs else ())
