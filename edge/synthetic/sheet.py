"""Contact sheets: a grid of rendered frames with their skeletons drawn on top, for
looking at what the synthetic booth makes (dancers, poses, visibility, noise)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from common.posemap import draw_pose
from common.reference import ReferenceDance
from edge.frames import Image
from edge.synthetic.background import background_plate
from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import SyntheticVisitor, make_staff, make_visitor

Overlay = Literal["truth", "noisy", "none"]


def dancer_row(
    dancer: SyntheticVisitor,
    cols: int,
    resolution: int,
    fps: float,
    duration_s: float,
    overlay: Overlay,
) -> list[Image]:
    """``cols`` frames spread over the dance, each with its skeleton drawn."""
    n = max(1, round(fps * duration_s))
    picks = set(np.linspace(0, n - 1, cols).round().astype(int).tolist())
    stream = NoiseModel().stream(dancer.seed)
    tiles = []
    for frame in dancer.frames(resolution, resolution, fps, duration_s):
        assert frame.truth is not None
        noisy = stream(frame.truth)  # run every frame so dropout bursts evolve as online
        if frame.seq not in picks:
            continue
        img = frame.image.copy()
        if overlay != "none":
            # Thin lines so the dancer under the skeleton stays visible.
            draw_pose(
                img,
                frame.truth if overlay == "truth" else noisy,
                min_conf=0.5,
                thickness=max(1, resolution // 128),
            )
        label = f"{'visitor' if dancer.freestyle else 'staff'} {dancer.seed} #{frame.seq}"
        cv2.putText(
            img,
            label,
            (4, resolution - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            resolution / 640,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        tiles.append(img)
    return tiles


def reference_row(dance: ReferenceDance, cols: int, resolution: int) -> list[Image]:
    """``cols`` moments of a reference dance: its skeleton over the booth background
    (a reference dance is keypoints only, so this is how an operator checks an edit)."""
    scale = resolution / max(dance.width, dance.height)
    plate = background_plate(resolution, resolution)
    tiles = []
    for i in np.linspace(0, dance.frames - 1, cols).round().astype(int):
        kps = dance.keypoints[i].copy()
        kps[:, :2] *= scale
        img = plate.copy()
        draw_pose(img, kps, min_conf=0.5, thickness=max(2, resolution // 64))
        cv2.putText(
            img,
            f"{dance.name} #{i}",
            (4, resolution - 6),
            cv2.FONT_HERSHEY_SIMPLEX,
            resolution / 640,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        tiles.append(img)
    return tiles


def contact_sheet(
    *,
    visitors: int = 4,
    staff: int = 2,
    cols: int = 6,
    resolution: int = 192,
    fps: float = 30.0,
    duration_s: float = 15.0,
    overlay: Overlay = "truth",
    start_seed: int = 0,
    references: Sequence[ReferenceDance] = (),
) -> Image:
    """Rows of visitors, staff dancers, then reference dances; ``cols`` moments per row."""
    rows = [make_visitor(start_seed + i) for i in range(visitors)]
    rows += [make_staff(start_seed + i) for i in range(staff)]
    if not rows and not references:
        raise ValueError("a contact sheet needs at least one dancer or reference dance")
    grid = [np.hstack(dancer_row(d, cols, resolution, fps, duration_s, overlay)) for d in rows]
    grid += [np.hstack(reference_row(r, cols, resolution)) for r in references]
    return np.vstack(grid)
