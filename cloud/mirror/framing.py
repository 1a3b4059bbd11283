"""Framing the live dancer: one steady square per visit, picked afresh when they leave.

The generator learnt the dancer in a square window around them
(:class:`cloud.training.framing.Framing`, the same one training and rendering use), so
the mirror draws each pose in such a window too. A window that followed every frame
would make the generated dancer swim; instead one is picked when a dancer appears and
kept while they dance in it. It is picked afresh when they have been gone for
``absent_s`` (the next person gets their own), or when they have stood outside it or
far smaller than it (stepped back) for ``reframe_after_s``.
"""

from __future__ import annotations

import numpy as np

from cloud.training.framing import Framing, FramingError
from common.posemap import DEFAULT_MIN_CONF
from protocol.live import LiveKeypoints

PAD = 0.25  # of the dancer's longer side on each side, as a capture's framing
MIN_SHARE = 0.3  # a dancer whose longer side is below this share of the window stepped back
# (framed, they fill 2/3 of it; a deep crouch halves that and keeps the window)
SLACK = 0.05  # of the window: joints this far outside it still count as inside


class LiveFraming:
    """The current dancer's window (None: nobody to frame)."""

    def __init__(self, absent_s: float = 1.0, reframe_after_s: float = 0.5) -> None:
        self.absent_s, self.reframe_after_s = absent_s, reframe_after_s
        self.framing: Framing | None = None
        self.reframes = 0
        self._last_seen_ns: int | None = None
        self._misfit_since_ns: int | None = None

    def update(self, live: LiveKeypoints) -> Framing | None:
        """The window to draw ``live`` in, or None when nobody is there to draw."""
        t = live.capture_ns
        if not live.seen:
            if self._last_seen_ns is None or t - self._last_seen_ns > self.absent_s * 1e9:
                self.framing, self._misfit_since_ns = None, None
            return self.framing if self._last_seen_ns is not None else None
        self._last_seen_ns = t
        if self.framing is not None and not self._fits(live, self.framing):
            self._misfit_since_ns = self._misfit_since_ns or t
            if t - self._misfit_since_ns > self.reframe_after_s * 1e9:
                self.framing = None
        else:
            self._misfit_since_ns = None
        if self.framing is None:
            try:
                self.framing = Framing.around(live.keypoints, live.width, live.height, pad=PAD)
            except FramingError:  # a few joints only: wait for more of the dancer
                return None
            self._misfit_since_ns = None
            self.reframes += 1
        return self.framing

    def present(self, now_ns: int) -> bool:
        """Whether a dancer was seen within ``absent_s`` of ``now_ns``."""
        return self._last_seen_ns is not None and now_ns - self._last_seen_ns <= self.absent_s * 1e9

    @staticmethod
    def _fits(live: LiveKeypoints, framing: Framing) -> bool:
        kps = live.keypoints
        ok = kps[:, 2] >= DEFAULT_MIN_CONF
        if not ok.any():
            return True
        lo, hi = kps[ok, :2].min(axis=0), kps[ok, :2].max(axis=0)
        slack = SLACK * framing.size
        x1, y1 = framing.x0 + framing.size, framing.y0 + framing.size
        inside = bool(
            lo[0] >= framing.x0 - slack
            and lo[1] >= framing.y0 - slack
            and hi[0] <= x1 + slack
            and hi[1] <= y1 + slack
        )
        return inside and float(np.max(hi - lo)) >= MIN_SHARE * framing.size
