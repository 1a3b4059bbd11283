"""The preview of a reference dance: its skeleton drawn over its kept video (or a dark
stage when it has none), with the repaired joints marked: a red ring where a joint was
not seen and was imputed, a red cross where it was only guessed (visibility 0). What
``dancebooth reference show NAME --video out.mp4`` writes and the dashboard shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from common.posemap import draw_pose, line_thickness
from common.reference import ReferenceDance
from edge.reference_video import H264Writer, Image
from protocol.skeleton import NUM_KEYPOINTS

REPAIRED = (40, 40, 230)  # BGR red
STAGE = (40, 32, 32)  # the background when the dance kept no video


def _backgrounds(dance: ReferenceDance) -> Iterator[Image]:
    """The kept video's frames, then (or instead) a dark stage, for every keypoint row."""
    shown = 0
    if dance.video is not None:
        import av

        with av.open(str(dance.video)) as c:
            for frame in c.decode(video=0):
                if shown == dance.frames:
                    return
                img = frame.to_ndarray(format="bgr24", width=dance.width, height=dance.height)
                yield np.ascontiguousarray(img)
                shown += 1
    for _ in range(shown, dance.frames):
        yield np.full((dance.height, dance.width, 3), STAGE, np.uint8)


def draw_frame(canvas: Image, dance: ReferenceDance, i: int) -> Image:
    """Row ``i``'s skeleton (all joints with any visibility) and its repaired joints."""
    draw_pose(canvas, dance.keypoints[i], min_conf=1e-3)
    t = line_thickness(dance.width, dance.height)
    if dance.repaired is not None:
        joints = np.concatenate([dance.keypoints[i], dance.extras[i]])
        for j in np.flatnonzero(dance.repaired[i]):
            x, y, v = joints[j]
            if j >= NUM_KEYPOINTS and v <= 0:
                continue  # a foot point the backend never gives: not a repair
            c = (round(float(x)), round(float(y)))
            if v > 0:
                cv2.circle(canvas, c, 3 * t, REPAIRED, max(1, t // 2), cv2.LINE_AA)
            else:
                cv2.drawMarker(canvas, c, REPAIRED, cv2.MARKER_TILTED_CROSS, 4 * t, max(1, t // 2))
    label = f"{dance.name}  {i / dance.fps:5.2f} s"
    if dance.repaired is not None:
        label += f"  repaired: {int(dance.repaired[i, :NUM_KEYPOINTS].sum())}"
    scale = max(0.4, dance.height / 720)
    cv2.putText(
        canvas,
        label,
        (8, round(24 * scale)),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6 * scale,
        (255, 255, 255),
        max(1, round(scale)),
        cv2.LINE_AA,
    )
    return canvas


def render_preview(
    dance: ReferenceDance, out: Path, progress: Callable[[int, int], None] | None = None
) -> Path:
    """Write the preview MP4 (H.264, the dance's size and rate) to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with H264Writer(
        out, dance.width - dance.width % 2, dance.height - dance.height % 2, dance.fps
    ) as writer:
        for i, image in enumerate(_backgrounds(dance)):
            frame = draw_frame(image, dance, i)
            writer.write(frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2])
            if progress is not None:
                progress(i + 1, dance.frames)
    return out
