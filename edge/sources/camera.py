"""A USB camera through OpenCV (V4L2 on Linux): device, size and requested fps.

Cameras often deliver something other than what was asked (another size, a lower
fps in low light); the node reports the fps actually delivered and scales frames
to the requested size so a capture's frames all match its manifest.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import cv2

from edge.frames import Frame
from edge.sources.base import FrameSource, SourceError

logger = logging.getLogger(__name__)


def _device_name(device: int | str) -> str:
    return f"/dev/video{device}" if isinstance(device, int) else device


class CameraFrameSource(FrameSource):
    name = "camera"

    def __init__(
        self, settings: Any, width: int, height: int, fps: float, duration_s: float | None = None
    ) -> None:
        super().__init__(width, height, fps)
        device = settings.device
        # "0" from an environment variable means camera 0, not a file called "0".
        self.device: int | str = int(device) if str(device).isdigit() else device
        self._cap: Any = None
        self._seq = 0
        self.negotiated: tuple[int, int, float] | None = None

    def open(self) -> None:
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(self.device, backend)
        if not cap.isOpened():
            raise SourceError(
                f"cannot open camera {_device_name(self.device)}: check that it is plugged in"
                " (ls /dev/video*), that this user may read it (group 'video'), and that no"
                " other program holds it; or set source.device"
            )
        # MJPG lets USB 2 cameras reach 60-120 fps at 640x480; raw YUYV often cannot.
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
        self.negotiated = (
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(cap.get(cv2.CAP_PROP_FPS)),
        )
        w, h, f = self.negotiated
        if (w, h) != (self.width, self.height) or abs(f - self.fps) > 0.5:
            logger.warning(
                "camera %s gives %dx%d at %.1f fps (asked %dx%d at %.1f); frames are scaled",
                _device_name(self.device),
                w,
                h,
                f,
                self.width,
                self.height,
                self.fps,
            )
        self._cap = cap

    def read(self) -> Frame | None:
        if self._cap is None:
            raise SourceError("camera source read before open()")
        ok, image = self._cap.read()
        stamp = time.time_ns()
        if not ok or image is None:
            raise SourceError(
                f"camera {_device_name(self.device)} stopped delivering frames (unplugged?)"
            )
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
        frame = Frame(seq=self._seq, capture_ns=stamp, image=image)
        self._seq += 1
        return self._delivered(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
