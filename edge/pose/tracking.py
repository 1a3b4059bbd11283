"""Following the dancer: which of the people a backend sees is the visitor being captured.

Backend-independent. The person matching the dancer of the previous frames (box
overlap, then keypoint distance) stays the dancer; when nobody matches, the dancer
is kept as "lost" for a few frames (an arm across the face, a friend walking in
front) rather than swapped for a bystander; after that, or at the start, the most
central and largest person becomes the dancer. Every frame also reports how many
people were seen, so the operator can ask a friend to step out.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from edge.frames import Frame
from edge.pose.base import Person, PoseEstimator

logger = logging.getLogger(__name__)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Selection:
    """The dancer in one frame (``None`` when not visible) and how many people were seen."""

    person: Person | None
    index: int | None  # position of ``person`` in the backend's list
    people_seen: int
    tracked: bool  # True: continues the previous frames' dancer; False: newly chosen


def box_iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def keypoint_distance(a: Person, b: Person, min_conf: float = 0.3) -> float:
    """Mean distance between joints confident in both, over ``b``'s box diagonal (inf: none)."""
    both = (a.keypoints[:, 2] >= min_conf) & (b.keypoints[:, 2] >= min_conf)
    if not both.any():
        return math.inf
    x0, y0, x1, y1 = b.bbox()
    diag = max(math.hypot(x1 - x0, y1 - y0), 1.0)
    d = np.linalg.norm(a.keypoints[both, :2] - b.keypoints[both, :2], axis=1)
    return float(d.mean() / diag)


def prominence(person: Person, width: int, height: int) -> float:
    """How much a person looks like the one in front of the camera: size x centrality."""
    x0, y0, x1, y1 = person.bbox()
    size = math.sqrt(max(x1 - x0, 0.0) * max(y1 - y0, 0.0) / (width * height))
    off = math.hypot((x0 + x1) / 2 - width / 2, (y0 + y1) / 2 - height / 2)
    centrality = 1.0 - min(1.0, off / (0.5 * math.hypot(width, height)))
    return size * centrality


class DancerTracker:
    """Chooses the dancer frame by frame; :meth:`reset` when a new capture starts."""

    def __init__(
        self, min_iou: float = 0.3, max_distance: float = 0.25, max_lost_frames: int = 15
    ) -> None:
        self.min_iou = min_iou
        self.max_distance = max_distance  # keypoint distance, in dancer box diagonals
        self.max_lost_frames = max_lost_frames
        self._dancer: Person | None = None
        self._lost = 0

    def reset(self) -> None:
        self._dancer = None
        self._lost = 0

    def start_from(self, person: Person) -> None:
        """Follow ``person`` from the next frame on (a dancer picked by hand)."""
        self._dancer, self._lost = person, 0

    def choose(self, people: list[Person], width: int, height: int) -> int:
        """Which of ``people`` (not empty) becomes the dancer: the most prominent."""
        return max(range(len(people)), key=lambda k: prominence(people[k], width, height))

    def _match(self, people: list[Person]) -> int | None:
        prev = self._dancer
        assert prev is not None
        best, best_cost = None, math.inf
        for i, p in enumerate(people):
            overlap = box_iou(p.bbox(), prev.bbox())
            dist = keypoint_distance(p, prev)
            if overlap < self.min_iou and dist > self.max_distance:
                continue
            cost = min(dist, 10.0) - overlap
            if cost < best_cost:
                best, best_cost = i, cost
        return best

    def select(self, people: list[Person], width: int, height: int) -> Selection:
        if self._dancer is not None:
            i = self._match(people)
            if i is not None:
                self._dancer, self._lost = people[i], 0
                return Selection(people[i], i, len(people), tracked=True)
            self._lost += 1
            if self._lost <= self.max_lost_frames:
                return Selection(None, None, len(people), tracked=True)
            logger.info("dancer lost for %d frames; choosing again", self._lost)
            self._dancer = None
        if not people:
            return Selection(None, None, 0, tracked=False)
        i = self.choose(people, width, height)
        self._dancer, self._lost = people[i], 0
        return Selection(people[i], i, len(people), tracked=False)


class FollowDancer:
    """A backend plus a tracker: frame in, the dancer (and the head count) out."""

    def __init__(self, estimator: PoseEstimator, tracker: DancerTracker | None = None) -> None:
        self.estimator = estimator
        self.tracker = tracker or DancerTracker()

    def __call__(self, frame: Frame) -> Selection:
        return self.tracker.select(self.estimator.estimate(frame), frame.width, frame.height)

    def reset(self) -> None:
        self.estimator.reset()
        self.tracker.reset()
