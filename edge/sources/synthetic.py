"""The synthetic visitor as a frame source: a rendered dancer with ground-truth keypoints
and person mask.

Wraps :func:`edge.synthetic.visitor.make_visitor`; the ``replay`` pose backend reads
the truth the frames carry.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from edge.frames import Frame
from edge.sources.base import FrameSource, Pacer, SourceError
from protocol.skeleton import NUM_KEYPOINTS

# A capture without a duration (a free-running node) renders this much at a time.
_DEFAULT_DURATION_S = 3600.0


class SyntheticFrameSource(FrameSource):
    name = "synthetic"

    def __init__(
        self, settings: Any, width: int, height: int, fps: float, duration_s: float | None = None
    ) -> None:
        super().__init__(width, height, fps)
        self.seed: int = settings.seed
        self.duration_s = duration_s or _DEFAULT_DURATION_S
        self._pacer = Pacer(fps, settings.realtime)
        self.live = bool(settings.realtime)
        self._frames: Iterator[Frame] | None = None
        self._seq = 0

    def open(self) -> None:
        # Imported here: a camera node never loads the synthetic booth.
        from edge.synthetic.visitor import make_visitor

        visitor = make_visitor(self.seed)
        self._frames = iter(
            visitor.frames(self.width, self.height, self.fps, self.duration_s, masks=True)
        )

    def read(self) -> Frame | None:
        if self._frames is None:
            raise SourceError("synthetic source read before open()")
        frame = next(self._frames, None)
        if frame is None:
            return None
        frame.seq = self._seq
        frame.capture_ns = self._pacer.stamp(self._seq)
        self._seq += 1
        return self._delivered(frame)

    def close(self) -> None:
        self._frames = None


class EmptyBoothSource(FrameSource):
    """The synthetic booth with nobody in it (what the camera sees between visitors):
    the dancer renderer's own background, with no keypoints to replay."""

    name = "synthetic-empty"

    def __init__(self, settings: Any, width: int, height: int, fps: float) -> None:
        super().__init__(width, height, fps)
        self._pacer = Pacer(fps, settings.realtime)
        self.live = bool(settings.realtime)
        self._seq = 0

    def open(self) -> None:
        pass

    def read(self) -> Frame | None:
        from edge.synthetic.background import background_plate

        plate = background_plate(self.width, self.height)
        frame = Frame(
            seq=self._seq,
            capture_ns=self._pacer.stamp(self._seq),
            image=plate.copy(),
            truth=np.zeros((NUM_KEYPOINTS, 3), np.float32),  # nobody: no confident joint
        )
        self._seq += 1
        return self._delivered(frame)
