"""The offline pass: a finished capture's keypoints smoothed with zero lag before upload.

When ``publisher.upload_keypoints`` is ``offline``, the annotator holds every packet
of a capture (HELD in the spool, with the backend's raw keypoints beside it); once
the capture has ended and every frame is annotated, this pass smooths the raw
keypoints over the whole capture (``edge.smoothing.smooth_offline``) and releases
the packets with ``FLAG_OFFLINE``. The online pipeline's confidences and imputed
mask are kept: the offline smoother fills the same gaps, from both sides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from edge.keypoints import sanitize
from edge.smoothing import smooth_offline
from edge.spool import Spool
from protocol.codec import FLAG_OFFLINE, decode_packet, encode_packet
from protocol.skeleton import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

Smoother = Callable[[npt.NDArray[np.float32], float], npt.NDArray[np.floating]]


def raw_bytes(keypoints: npt.NDArray[np.float32], extras: npt.NDArray[np.float32]) -> bytes:
    return np.concatenate([keypoints, extras.reshape(-1, 3)]).astype("<f4").tobytes()


class OfflinePass:
    """Smooths and releases the HELD packets of ended captures."""

    def __init__(self, spool: Spool, smoother: Smoother = smooth_offline) -> None:
        self.spool, self.smoother = spool, smoother

    def run(self) -> int:
        """Finalize every capture that is ready for it; return the packets released."""
        return sum(self.finalize(session) for session in self.spool.held_sessions())

    def finalize(self, session: str) -> int:
        rows = self.spool.held(session)
        record = self.spool.capture(session)
        fps = record.fps if record is not None else 30.0
        raws = [np.frombuffer(raw, "<f4").reshape(-1, 3) for _, _, raw in rows]
        joints = min(len(r) for r in raws)  # extras only where every frame has them
        if joints not in (NUM_KEYPOINTS, NUM_KEYPOINTS + 4):
            joints = NUM_KEYPOINTS
        seq = np.stack([r[:joints] for r in raws]).astype(np.float32)
        smooth: npt.NDArray[np.float32] | None = np.asarray(
            self.smoother(seq, fps), dtype=np.float32
        )
        if smooth is None or smooth.shape != seq.shape or not np.isfinite(smooth[:, :, :2]).all():
            logger.error(
                "offline smoothing of %s gave unusable output; sending online keypoints", session
            )
            smooth = None
        out = []
        for i, (q, packet_bytes, _) in enumerate(rows):
            packet = decode_packet(packet_bytes)
            if smooth is not None:
                w, h = packet.width, packet.height
                packet.keypoints = packet.keypoints.copy()
                packet.keypoints[:, :2] = smooth[i, :NUM_KEYPOINTS, :2]
                packet.keypoints = sanitize(packet.keypoints, w, h)
                if joints > NUM_KEYPOINTS and len(packet.extras) == joints - NUM_KEYPOINTS:
                    packet.extras = packet.extras.copy()
                    packet.extras[:, :2] = smooth[i, NUM_KEYPOINTS:, :2]
                    packet.extras = sanitize(packet.extras, w, h)
                packet.flags = FLAG_OFFLINE
            out.append((q, encode_packet(packet)))
        self.spool.release(session, out)
        logger.info("offline pass of %s: %d packets released", session, len(out))
        return len(out)
