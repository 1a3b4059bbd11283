"""A capture's QA report: the scores of each node's clip against the thresholds
(:class:`cloud.settings.CaptureQaSettings`), and the reasons a retake is suggested, in
words the visitor can act on."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from cloud.qa.images import ImageScores, pick_samples, score_images
from cloud.qa.poses import PoseScoreError, PoseScores, check_keypoints, score_poses
from cloud.settings import CaptureQaSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeClip:
    """One node's capture as QA reads it: keypoints per frame and sampled JPEGs."""

    node: str
    keypoints: npt.NDArray[np.float32]  # [T, 17, 3]
    width: int
    height: int
    jpegs: Sequence[bytes] = ()  # JPEGs of the frames at ``jpeg_frames``
    jpeg_frames: Sequence[int] = ()  # their indices into ``keypoints``


@dataclass(frozen=True)
class NodeReport:
    node: str
    poses: PoseScores | None
    images: ImageScores | None
    reasons: tuple[str, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class QaReport:
    """The verdict on a capture; ``passed`` is False when any node has a reason."""

    dance: str | None
    nodes: tuple[NodeReport, ...]
    seconds: float
    thresholds: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def reasons(self) -> list[str]:
        many = len(self.nodes) > 1
        return [f"{n.node}: {r}" if many else r for n in self.nodes for r in n.reasons]

    @property
    def coverage(self) -> float | None:
        """The best node's coverage: the renderer reads the node with the most frames,
        and every node saw the same dance."""
        values = [n.poses.coverage for n in self.nodes if n.poses and n.poses.coverage is not None]
        return max(values) if values else None

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "dance": self.dance,
            "coverage": self.coverage,
            "reasons": self.reasons,
            "seconds": round(self.seconds, 4),
            "nodes": [asdict(n) for n in self.nodes],
            "thresholds": self.thresholds,
        }


def _pose_reasons(p: PoseScores, q: CaptureQaSettings) -> list[str]:
    out = []
    if p.scored < q.min_pose_frames * p.frames:
        out.append(
            f"the dancer was found in only {p.scored / p.frames:.0%} of frames "
            f"(need {q.min_pose_frames:.0%}): stay in front of the camera"
        )
    if p.coverage is not None and p.coverage < q.min_coverage:
        out.append(
            f"covered {p.coverage:.0%} of the reference dance's poses (need "
            f"{q.min_coverage:.0%}): dance along with the dancer on the screen"
        )
    if p.whole_body < q.min_whole_body:
        out.append(
            f"the whole body was in frame in only {p.whole_body:.0%} of frames (need "
            f"{q.min_whole_body:.0%}): step back to the floor mark"
        )
    if p.feet < q.min_feet:
        out.append(
            f"feet were in frame in only {p.feet:.0%} of frames (need {q.min_feet:.0%}): "
            "step back, or aim the camera lower"
        )
    if p.frame_share < q.min_frame_share:
        out.append(
            f"the dancer filled only {p.frame_share:.0%} of the frame's height (need "
            f"{q.min_frame_share:.0%}): step closer"
        )
    if p.motion < q.min_motion:
        out.append(
            f"hardly any movement ({p.motion:.2f} torso lengths, need {q.min_motion:.2f}): "
            "dance, move the arms and legs"
        )
    return out


def _image_reasons(i: ImageScores, q: CaptureQaSettings) -> list[str]:
    out = []
    if i.sharpness < q.min_sharpness:
        out.append(
            f"the image is blurred (sharpness {i.sharpness:.3f}, need {q.min_sharpness:.3f}): "
            "check the camera's focus and the light"
        )
    low, high = q.brightness
    if i.brightness < low:
        out.append(f"the dancer is too dark (grey {i.brightness:.0f}, need {low:.0f}): more light")
    elif i.brightness > high:
        out.append(f"the dancer is overexposed (grey {i.brightness:.0f}, need <= {high:.0f})")
    if i.clipped > q.max_clipped:
        out.append(
            f"{i.clipped:.0%} of the pixels are pure black or white (at most "
            f"{q.max_clipped:.0%}): check the camera's exposure"
        )
    return out


def assess_node(
    clip: NodeClip, reference: npt.ArrayLike | None, q: CaptureQaSettings
) -> NodeReport:
    """Score one node's clip; a clip that cannot be scored gets that as its reason."""
    reasons: list[str] = []
    notes: list[str] = []
    poses: PoseScores | None = None
    try:
        poses = score_poses(
            clip.keypoints,
            clip.width,
            clip.height,
            reference,
            min_conf=q.min_conf,
            min_joints=q.min_joints,
            match_distance=q.match_distance,
        )
        reasons += _pose_reasons(poses, q)
        notes += poses.notes
    except PoseScoreError as exc:
        reasons.append(str(exc))
    images = None
    if clip.jpegs:
        kps = [
            clip.keypoints[i] if 0 <= i < len(clip.keypoints) else None for i in clip.jpeg_frames
        ]
        images = score_images(
            clip.jpegs, kps if len(kps) == len(clip.jpegs) else None, min_conf=q.min_conf
        )
        if images is None:
            notes.append("no JPEG could be decoded: image not checked")
        else:
            reasons += _image_reasons(images, q)
    return NodeReport(clip.node, poses, images, tuple(reasons), tuple(notes))


def assess(
    clips: Sequence[NodeClip],
    reference: npt.ArrayLike | None,
    q: CaptureQaSettings,
    dance: str | None = None,
) -> QaReport:
    """Score every node's clip of a capture against the reference dance's keypoints."""
    if not clips:
        raise PoseScoreError("the capture has no frames from any node")
    if reference is not None:
        check_keypoints(reference, "reference")  # the dance's fault, not the visitor's
    start = time.perf_counter()
    nodes = tuple(assess_node(c, reference, q) for c in clips)
    report = QaReport(dance, nodes, time.perf_counter() - start, q.model_dump(mode="json"))
    logger.info(
        "capture QA %s: coverage %s, %s",
        "passed" if report.passed else "retake suggested",
        "n/a" if report.coverage is None else f"{report.coverage:.2f}",
        "; ".join(report.reasons) or "no reasons",
    )
    return report


def sample_frames(count: int, q: CaptureQaSettings) -> list[int]:
    """Which of a node's ``count`` frames to decode for the image check."""
    return pick_samples(count, q.image_samples)
