"""Contact sheets: a grid of rendered frames with their skeletons drawn on top, for
looking at what the synthetic booth makes (dancers, poses, visibility, noise)."""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

from edge.frames import Image
from edge.posemap import draw_pose
from edge.synthetic.noise import NoiseModel
from edge.synthetic.visitor import SyntheticVisitor, make_staff, make_visitor

Overlay = Literal["truth", "noisy", "none"]


def dancer_row(dancer: SyntheticVisitor, cols: int, resolution: int, fps: float,
               duration_s: float, overlay: Overlay) -> list[Image]:  # fmt: skip
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
            draw_pose(img, frame.truth if overlay == "truth" else noisy, min_conf=0.5,
                      thickness=max(1, resolution // 128))  # fmt: skip
        label = f"{'visitor' if dancer.freestyle else 'staff'} {dancer.seed} #{frame.seq}"
        cv2.putText(img, label, (4, resolution - 6), cv2.FONT_HERSHEY_SIMPLEX,
                    resolution / 640, (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
        tiles.append(img)
    return tiles


def contact_sheet(*, visitors: int = 4, staff: int = 2, cols: int = 6, resolution: int = 192,
                  fps: float = 30.0, duration_s: float = 15.0, overlay: Overlay = "truth",
                  start_seed: int = 0) -> Image:  # fmt: skip
    """Rows of visitors then staff dancers, ``cols`` moments of each dance per row."""
    rows = [make_visitor(start_seed + i) for i in range(visitors)]
    rows += [make_staff(start_seed + i) for i in range(staff)]
    if not rows:
        raise ValueError("a contact sheet needs at least one visitor or staff dancer")
    grid = [np.hstack(dancer_row(d, cols, resolution, fps, duration_s, overlay)) for d in rows]
    return np.vstack(grid)
