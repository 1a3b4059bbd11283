"""Contact sheets: what a pose backend sees in a set of images, drawn for a human to check.

Each tile is one image with every person's skeleton drawn (``common.posemap``), the
dancer the tracker picked boxed in green and bystanders in grey, and a caption with
the head count. Used by ``dancebooth edge pose-sheet`` when setting up a booth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from common.posemap import draw_pose
from edge.frames import Frame, Image
from edge.pose.base import Person, PoseEstimator
from edge.pose.tracking import DancerTracker

GREEN = (60, 220, 60)
GREY = (160, 160, 160)


@dataclass
class Tile:
    label: str
    image: Image
    people: list[Person]
    dancer: int | None


def look(estimator: PoseEstimator, label: str, image: Image, frames: int = 2) -> Tile:
    """Run the backend on a still image as a short clip (detection, then tracking)."""
    estimator.reset()
    people: list[Person] = []
    for seq in range(frames):
        people = estimator.estimate(Frame(seq, 0, image))
    sel = DancerTracker().select(people, image.shape[1], image.shape[0])
    return Tile(label, image, people, sel.index)


def draw_tile(tile: Tile, height: int) -> Image:
    canvas = tile.image.copy()
    for i, person in enumerate(tile.people):
        draw_pose(canvas, person.keypoints)
        x0, y0, x1, y1 = (round(v) for v in person.bbox())
        color = GREEN if i == tile.dancer else GREY
        cv2.rectangle(canvas, (x0, y0), (x1, y1), color, max(2, canvas.shape[0] // 200))
    scale = height / canvas.shape[0]
    out = cv2.resize(canvas, (max(1, round(canvas.shape[1] * scale)), height))
    n = len(tile.people)
    score = f", dancer {tile.people[tile.dancer].score:.2f}" if tile.dancer is not None else ""
    caption = f"{tile.label}: {n} {'person' if n == 1 else 'people'}{score}"
    cv2.rectangle(out, (0, 0), (out.shape[1], 26), (0, 0, 0), -1)
    cv2.putText(
        out, caption, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA
    )
    return np.asarray(out, dtype=np.uint8)


def contact_sheet(tiles: Sequence[Tile], height: int = 360, width: int = 1600) -> Image:
    """Tiles of equal height, packed left to right into rows at most ``width`` wide."""
    drawn = [draw_tile(t, height) for t in tiles]
    rows: list[list[Image]] = [[]]
    for img in drawn:
        if rows[-1] and sum(i.shape[1] for i in rows[-1]) + img.shape[1] > width:
            rows.append([])
        rows[-1].append(img)
    full = max(sum(i.shape[1] for i in row) for row in rows)
    lines = []
    for row in rows:
        line = np.hstack(row)
        pad = np.zeros((height, full - line.shape[1], 3), np.uint8)
        lines.append(np.hstack([line, pad]))
    return np.asarray(np.vstack(lines), dtype=np.uint8)
