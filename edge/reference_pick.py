"""Whom a reference dance follows: the people a backend saw in every frame of a video,
narrowed to one dancer, by default or as the operator picked (``--person``).

The whole video's detections are in hand (the pose ran first), so a dancer picked by
index in the first crowded frame is followed forwards *and* backwards from there.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt

from common.reference_add import ReferenceAddError
from edge.pose.base import Person
from edge.pose.tracking import DancerTracker, box_iou
from edge.reference_quality import SEEN, Tracked
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

PersonChoice = int | Literal["largest", "central"] | None
SAME_PLACE_IOU = 0.3  # the tracker's own bar for "the same person as before"


def _area(p: Person) -> float:
    x0, y0, x1, y1 = p.bbox()
    return (x1 - x0) * (y1 - y0)


def _off_centre(p: Person, width: int, height: int) -> float:
    x0, y0, x1, y1 = p.bbox()
    return math.hypot((x0 + x1) / 2 - width / 2, (y0 + y1) / 2 - height / 2)


class ChoosingTracker(DancerTracker):
    """A tracker that (re)chooses the largest or the most central person."""

    def __init__(self, rule: Literal["largest", "central"]) -> None:
        super().__init__()
        self.rule = rule

    def choose(self, people: list[Person], width: int, height: int) -> int:
        if self.rule == "largest":
            return max(range(len(people)), key=lambda k: _area(people[k]))
        return min(range(len(people)), key=lambda k: _off_centre(people[k], width, height))


def visible(people: list[Person]) -> list[Person]:
    """The people with at least one joint seen (backends may return empty shells)."""
    return [p for p in people if float(p.keypoints[:, 2].max(initial=0.0)) >= SEEN]


def follow(
    detections: list[list[Person]], width: int, height: int, person: PersonChoice = None
) -> tuple[Tracked, str | None]:
    """The dancer's raw keypoints through the video, and a note on how they were picked."""
    people = [visible(p) for p in detections]
    if isinstance(person, int):
        return _follow_index(people, width, height, person)
    tracker = DancerTracker() if person is None else ChoosingTracker(person)
    picks = _run(tracker, people, width, height)
    note = None if person is None else f"followed the {person} person"
    return _tracked(people, picks), note


Pick = tuple[Person | None, bool]  # (the dancer or None, chosen afresh here)


def _run(tracker: DancerTracker, people: list[list[Person]], width: int, height: int) -> list[Pick]:
    out: list[Pick] = []
    for seen in people:
        sel = tracker.select(seen, width, height)
        out.append((sel.person, sel.person is not None and not sel.tracked))
    return out


def _follow_index(
    people: list[list[Person]], width: int, height: int, index: int
) -> tuple[Tracked, str]:
    crowded = next((t for t, p in enumerate(people) if len(p) > 1), None)
    start = crowded if crowded is not None else next((t for t, p in enumerate(people) if p), 0)
    ranked = sorted(people[start], key=lambda p: sum(p.bbox()[0::2]))  # left to right
    if not 0 <= index < len(ranked):
        raise ReferenceAddError(
            f"--person {index}: the first frame with several people (frame {start}) shows "
            f"{len(ranked)}; use 0 to {len(ranked) - 1} (0 = leftmost), largest or central"
        )
    dancer = ranked[index]
    forward, backward = DancerTracker(), DancerTracker()
    forward.start_from(dancer)
    backward.start_from(dancer)
    after = _run(forward, people[start + 1 :], width, height)
    before = _run(backward, people[:start][::-1], width, height)[::-1]
    picks: list[Pick] = [*before, (dancer, False), *after]
    note = f"followed person {index} (from the left) of frame {start}"
    return _tracked(people, picks), note


def _tracked(people: list[list[Person]], picks: list[Pick]) -> Tracked:
    n = len(picks)
    kps = np.zeros((n, NUM_KEYPOINTS, 3), np.float32)
    extras = np.zeros((n, NUM_EXTRA_KEYPOINTS, 3), np.float32)
    for t, (p, _) in enumerate(picks):
        if p is None:
            continue
        kps[t] = p.keypoints
        if len(p.extras) == NUM_EXTRA_KEYPOINTS:
            extras[t] = p.extras
    return Tracked(
        keypoints=kps,
        extras=extras,
        found=np.array([p is not None for p, _ in picks], dtype=bool),
        people=np.array([len(p) for p in people], dtype=np.int32),
        changed=_changes(picks),
    )


def _changes(picks: list[Pick]) -> npt.NDArray[np.bool_]:
    """Where the tracker chose someone afresh who is not where the dancer was last seen
    (a dancer who steps out and back in at the same spot is not a change)."""
    out = np.zeros(len(picks), dtype=bool)
    last: Person | None = None
    for t, (p, chosen) in enumerate(picks):
        if p is None:
            continue
        if chosen and last is not None:
            out[t] = box_iou(last.bbox(), p.bbox()) < SAME_PLACE_IOU
        last = p
    return out
