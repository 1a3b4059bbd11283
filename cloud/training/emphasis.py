"""Emphasis on the poses that will be rendered: the captured frames nearest to the
reference dance's poses (as capture QA's coverage measures them) are oversampled in a
fine-tune, so the model practises most what it is about to draw."""

from __future__ import annotations

import logging

import numpy as np
import numpy.typing as npt

from cloud.qa.poses import reference_matches
from cloud.training.data import FrameSet

logger = logging.getLogger(__name__)

MAX_EXTRA = 3  # extra copies of one frame at most: a pose many reference frames share
# (standing between moves) would otherwise crowd out the rest


def oversample_near(train: FrameSet, reference: npt.ArrayLike) -> FrameSet:
    """``train`` with each frame repeated once more for every reference frame it is the
    nearest captured pose to (at most :data:`MAX_EXTRA` more)."""
    counts = reference_matches(train.keypoints.numpy().astype(np.float64), reference)
    extra = np.minimum(counts, MAX_EXTRA)
    index = np.concatenate([np.arange(len(train)), np.repeat(np.arange(len(train)), extra)])
    logger.info(
        "oversampling %d of %d frames nearest the reference's poses: %d training items",
        int((extra > 0).sum()),
        len(train),
        len(index),
    )
    return train.subset(index.tolist())
