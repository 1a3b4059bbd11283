"""The keypoints of a reference dance built from a video: the replay backend's input file,
and the repair + zero-lag smoothing of the dancer's whole sequence
(:func:`~edge.smoothing.repair_and_smooth`), with long guesses marked unseen.
The pipeline that uses them is :mod:`edge.reference_add`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from common.reference_add import ReferenceAddError
from edge.settings import SmoothingSettings
from edge.smoothing import repair_and_smooth
from protocol.skeleton import NUM_EXTRA_KEYPOINTS, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]


class ReferenceBuildError(ReferenceAddError):
    """The video cannot become a reference dance; the message says why and what to do."""


def repair_sequence(
    keypoints: FloatArray,
    extras: FloatArray,
    fps: float,
    settings: SmoothingSettings,
    max_guess_s: float = 1.0,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Repair then smooth ``[T, 17, 3]`` + ``[T, 4, 3]``: keypoints, extras and the
    ``[T, 21]`` imputed mask (extras all imputed when the backend gave none)."""
    has_extras = bool((extras[:, :, 2] > 0).any())
    joints = np.concatenate([keypoints, extras], axis=1) if has_extras else keypoints
    smoothed, imputed = repair_and_smooth(joints, fps, settings=settings)
    out = smoothed.astype(np.float32)
    out[:, :, 2] = np.clip(np.where(imputed, settings.imputed_confidence, out[:, :, 2]), 0, 1)
    out[:, :, 2] = _gap_confidence(out[:, :, 2], imputed, round(max_guess_s * fps))
    if has_extras:
        return out[:, :NUM_KEYPOINTS], out[:, NUM_KEYPOINTS:], np.asarray(imputed, dtype=bool)
    mask = np.ones((len(out), NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS), dtype=bool)
    mask[:, :NUM_KEYPOINTS] = imputed
    return out, np.zeros_like(extras), mask


def _gap_confidence(
    conf: FloatArray, imputed: npt.NDArray[np.bool_], max_frames: int
) -> FloatArray:
    """Visibility of imputed joints: no more than the observations around the gap, and 0
    past ``max_frames`` (guessed, not repaired: as an operator marks a joint they cannot
    place)."""
    out = conf.copy()
    frames = len(conf)
    for j in range(conf.shape[1]):
        padded = np.concatenate([[False], imputed[:, j], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for start, end in zip(edges[::2], edges[1::2], strict=True):
            if end - start > max_frames:
                out[start:end, j] = 0.0
                continue
            around = [conf[k, j] for k in (start - 1, end) if 0 <= k < frames]
            out[start:end, j] = np.minimum(conf[start:end, j], max(around, default=0.0))
    return out


def load_keypoints_file(path: Path) -> FloatArray:
    """Keypoints for the ``replay`` backend: a ``.npy`` ``[T, 17|21, 3]`` array (or
    ``[T, P, 17|21, 3]`` for P people, the dancer first) or a reference dance (its
    directory or ``dance.json``)."""
    if path.suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ReferenceBuildError(f"{path}: cannot read as a .npy array: {exc}") from None
    else:
        from common.reference import ReferenceDanceError, load_reference

        target = path.parent if path.name == "dance.json" else path
        try:
            dance = load_reference(target)
        except ReferenceDanceError as exc:
            raise ReferenceBuildError(str(exc)) from None
        arr = np.concatenate([dance.keypoints, dance.extras], axis=1)
    arr = np.asarray(arr, dtype=np.float32)
    joints = (NUM_KEYPOINTS, NUM_KEYPOINTS + NUM_EXTRA_KEYPOINTS)
    if arr.ndim not in (3, 4) or arr.shape[-2] not in joints or arr.shape[-1] != 3 or not len(arr):
        raise ReferenceBuildError(
            f"{path}: expected keypoints [T, 17 or 21, 3] (or [T, people, 17 or 21, 3]), "
            f"got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ReferenceBuildError(f"{path}: keypoints must be finite numbers")
    return arr
