"""Contact sheets of a rendition: every n-th frame in a grid, to look at a video at once."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from cloud.render.video import read_frames


def contact_sheet(
    video: str | Path,
    *,
    frames: int = 8,
    columns: int = 4,
    label: bool = True,
    tile_width: int = 320,
) -> npt.NDArray[np.uint8]:
    """A BGR grid of ``frames`` frames spread evenly over ``video``, each labelled and
    shrunk to at most ``tile_width`` px wide (a 720p rendition's sheet stays small)."""
    if frames < 1 or columns < 1:
        raise ValueError("frames and columns must be >= 1")
    all_frames = list(read_frames(video))
    if not all_frames:
        raise ValueError(f"{video} has no video frames")
    picks = np.linspace(0, len(all_frames) - 1, min(frames, len(all_frames))).round().astype(int)
    tiles = []
    for i in picks:
        tile = all_frames[i]
        if tile.shape[1] > tile_width:
            h = round(tile.shape[0] * tile_width / tile.shape[1])
            tile = np.asarray(cv2.resize(tile, (tile_width, h), interpolation=cv2.INTER_AREA))
        if label:
            # The caption goes on a strip under the frame, never over the frame's own mark.
            w = tile.shape[1]
            strip = np.zeros((max(12, w // 10), w, 3), np.uint8)
            scale = strip.shape[0] / 30
            cv2.putText(
                strip,
                f"frame {i}",
                (3, strip.shape[0] - 3),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (255, 255, 255),
                1,
                cv2.LINE_AA,
            )
            tile = np.vstack([tile, strip])
        tiles.append(tile)
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[r : r + columns]) for r in range(0, len(tiles), columns)]
    return np.vstack(rows)


def write_contact_sheet(
    video: str | Path, out: str | Path, *, frames: int = 8, columns: int = 4
) -> Path:
    """Save :func:`contact_sheet` of ``video`` as an image (format from the suffix)."""
    sheet = contact_sheet(video, frames=frames, columns=columns)
    out = Path(out)
    if not cv2.imwrite(str(out), sheet):
        raise ValueError(f"cannot write an image to {out} (use .png or .jpg)")
    return out
