"""The ``blazepose`` backend: MediaPipe's BlazePose detector + full landmark model on LiteRT.

Per frame, the landmark model runs once per tracked person on a rotated square
around them, placed from that person's landmarks in the previous frame; the (more
expensive, less precise) detector runs only when nobody is tracked, when tracking
is lost, and every ``redetect_every`` frames to notice someone entering the booth.
This is MediaPipe's detect-then-track scheme, extended from one person to a few.
With ``person_mask`` on, each person also gets the landmark model's segmentation as
a frame-sized mask (:mod:`edge.pose.segmentation`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from edge.frames import Frame, Image
from edge.pose.anchors import generate_anchors
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.pose.detection import FULL_BODY, HIP_CENTER, Detection, Letterbox, decode_detections
from edge.pose.detection import DecodeOptions as DetectionOptions
from edge.pose.detection import iou as box_iou
from edge.pose.inputs import check_image
from edge.pose.interpreter import Runtime, TfliteModel, load_interpreter
from edge.pose.landmarks import Landmarks, decode_landmarks
from edge.pose.models import model_path
from edge.pose.roi import RotatedRect
from edge.pose.segmentation import roi_mask
from edge.settings import BlazePoseSettings
from protocol.masks import Mask

logger = logging.getLogger(__name__)

DETECTOR_MODEL = "pose_detection.tflite"
LANDMARK_MODEL = "pose_landmark_full.tflite"
# Landmark model outputs, by position: landmarks [1,195], pose flag [1,1], segmentation
# logits [1,256,256,1] over the crop, heatmap [1,64,64,39].
OUT_LANDMARKS, OUT_FLAG, OUT_SEGMENTATION, OUT_HEATMAP = 0, 1, 2, 3
# A detection overlapping a tracked person this much is that person, not a newcomer.
SAME_PERSON_IOU = 0.4
MIN_ROI_PX = 16.0


Tracked = tuple[Person, RotatedRect]  # a person and where to look for them next frame


def drop_duplicates(found: list[Tracked], max_iou: float = 0.5) -> list[Tracked]:
    """Best first, without tracks that converged onto a better one's person."""
    kept: list[Tracked] = []
    for person, roi in sorted(found, key=lambda pr: -pr[0].score):
        if all(box_iou(roi.bbox(), other.bbox()[None])[0] <= max_iou for _, other in kept):
            kept.append((person, roi))
    return kept


@dataclass
class BlazePoseStats:
    frames: int = 0
    detector_runs: int = 0
    landmark_runs: int = 0


class BlazePose(PoseEstimator):
    name = "blazepose"

    def __init__(self, settings: BlazePoseSettings, runtime: Runtime | None = None) -> None:
        self.settings = settings
        det = model_path(DETECTOR_MODEL, settings.model_dir)
        lmk = model_path(LANDMARK_MODEL, settings.model_dir)
        self.detector = TfliteModel(
            load_interpreter(det, threads=settings.threads, runtime=runtime)
        )
        self.landmarker = TfliteModel(
            load_interpreter(lmk, threads=settings.threads, runtime=runtime)
        )
        self.anchors = generate_anchors()
        n_out = int(self.detector.outputs[0]["shape"][1])
        if n_out != len(self.anchors):
            raise PoseError(f"{det} has {n_out} boxes, expected {len(self.anchors)} anchors")
        self.det_options = DetectionOptions(min_score=settings.min_detection_score)
        self.stats = BlazePoseStats()
        self._tracks: list[RotatedRect] = []
        self._since_detect = 0

    @property
    def tflite_models(self) -> dict[str, TfliteModel]:
        return {"detector": self.detector, "landmarks": self.landmarker}

    # -- the two models -------------------------------------------------------------------

    def detect(self, image: Image) -> list[Detection]:
        """People in ``image`` (BGR) from the detector, best first."""
        size = self.detector.input_size[0]
        box = Letterbox.fit(image.shape[1], image.shape[0], size)
        rgb = cv2.cvtColor(box.apply(image), cv2.COLOR_BGR2RGB)
        x = rgb.astype(np.float32)
        x *= np.float32(2 / 255)  # in place: one 600 KB buffer per frame, not three
        x -= np.float32(1)  # [-1, 1]
        # The two outputs are boxes [1, N, 12] and score logits [1, N, 1], in either order.
        outs = self.detector.run(x, [0, 1])
        raw, logits = sorted(outs, key=lambda a: a.shape[-1], reverse=True)
        self.stats.detector_runs += 1
        return decode_detections(raw[0], logits[0], self.anchors, box, self.det_options)

    def landmarks(self, image: Image, roi: RotatedRect) -> tuple[Landmarks, float, Mask | None]:
        """Landmarks of the person in ``roi``, the model's pose-presence score and, with
        ``person_mask`` on, their mask in frame coordinates."""
        size = self.landmarker.input_size[0]
        rgb = cv2.cvtColor(roi.crop(image, size), cv2.COLOR_BGR2RGB)
        wanted = [OUT_LANDMARKS, OUT_FLAG]
        if self.settings.refine_landmarks:
            wanted.append(OUT_HEATMAP)
        if self.settings.person_mask:
            wanted.append(OUT_SEGMENTATION)
        x = rgb.astype(np.float32)
        x *= np.float32(1 / 255)  # [0, 1]
        outs = self.landmarker.run(x, wanted)
        self.stats.landmark_runs += 1
        heatmap = outs[2] if self.settings.refine_landmarks else None
        mask = None
        if self.settings.person_mask:
            mask = roi_mask(outs[-1], roi, size, image.shape[1], image.shape[0])
        lm = decode_landmarks(outs[0], roi, size, heatmap)
        return lm, float(outs[1].reshape(-1)[0]), mask

    # -- detect-then-track ----------------------------------------------------------------

    def _detection_rois(self, image: Image, tracked: list[RotatedRect]) -> list[RotatedRect]:
        """Tracked ROIs, then ROIs of detected people not already tracked."""
        self._since_detect = 0
        rois = list(tracked)
        for det in self.detect(image):
            roi = RotatedRect.from_alignment(det.keypoints[HIP_CENTER], det.keypoints[FULL_BODY])
            if rois and box_iou(roi.bbox(), np.stack([r.bbox() for r in rois])).max() > (
                SAME_PERSON_IOU
            ):
                continue
            rois.append(roi)
        return rois[: self.settings.max_people]

    def _track(self, image: Image, rois: list[RotatedRect]) -> list[Tracked]:
        found: list[Tracked] = []
        for roi in rois:
            if not roi.size >= MIN_ROI_PX:  # degenerate (or NaN) region: the track is lost
                continue
            lm, presence, mask = self.landmarks(image, roi)
            if presence >= self.settings.min_pose_presence:
                kps, extras = lm.coco()
                found.append((Person(kps, presence, extras, mask), lm.next_roi()))
        return found

    def estimate(self, frame: Frame) -> list[Person]:
        check_image(frame.image)
        self.stats.frames += 1
        every = self.settings.redetect_every
        detected = not self._tracks or (every > 0 and self._since_detect >= every)
        if detected:
            rois = self._detection_rois(frame.image, self._tracks)
        else:
            self._since_detect += 1
            rois = self._tracks
        found = self._track(frame.image, rois)
        if len(found) < len(rois) and not detected:
            # Someone was lost this frame: look again now rather than drop a frame.
            kept = [r for _, r in found]
            found += self._track(frame.image, self._detection_rois(frame.image, kept)[len(kept) :])
        found = drop_duplicates(found)
        self._tracks = [roi for _, roi in found]
        return [person for person, _ in found]

    def reset(self) -> None:
        self._tracks = []
        self._since_detect = 0
