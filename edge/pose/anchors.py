"""SSD anchors: the fixed grid of prior boxes a single-shot detector regresses from.

A port of MediaPipe's ``SsdAnchorsCalculator`` for the options BlazePose's detector
was trained with (``pose_detection_cpu.pbtxt``). The order of anchors must match the
order of the model's 2254 outputs exactly, so the loops mirror MediaPipe's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class AnchorOptions:
    input_width: int = 224
    input_height: int = 224
    num_layers: int = 5
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    strides: tuple[int, ...] = (8, 16, 32, 32, 32)
    aspect_ratios: tuple[float, ...] = (1.0,)
    offset_x: float = 0.5
    offset_y: float = 0.5
    # An extra anchor per layer at the geometric mean of this layer's and the next's scale.
    interpolated_scale_aspect_ratio: float = 1.0
    # BlazePose regresses absolute sizes: every anchor is 1x1 (only its centre matters).
    fixed_anchor_size: bool = True


POSE_DETECTION_ANCHORS = AnchorOptions()


def _scale(opts: AnchorOptions, layer: int) -> float:
    if len(opts.strides) == 1:
        return (opts.min_scale + opts.max_scale) / 2
    return opts.min_scale + (opts.max_scale - opts.min_scale) * layer / (len(opts.strides) - 1)


def _layer_shapes(opts: AnchorOptions, first: int, last: int) -> list[tuple[float, float]]:
    """(width, height) of each anchor placed per cell by layers ``first..last-1``."""
    shapes: list[tuple[float, float]] = []
    for layer in range(first, last):
        scale = _scale(opts, layer)
        for ratio in opts.aspect_ratios:
            shapes.append((scale * math.sqrt(ratio), scale / math.sqrt(ratio)))
        if opts.interpolated_scale_aspect_ratio > 0:
            nxt = 1.0 if layer == opts.num_layers - 1 else _scale(opts, layer + 1)
            mid = math.sqrt(scale * nxt)
            r = opts.interpolated_scale_aspect_ratio
            shapes.append((mid * math.sqrt(r), mid / math.sqrt(r)))
    return shapes


def generate_anchors(opts: AnchorOptions = POSE_DETECTION_ANCHORS) -> npt.NDArray[np.float32]:
    """``[N, 4]`` anchors as (x_center, y_center, width, height), normalised to the input."""
    rows: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < opts.num_layers:
        # Consecutive layers with the same stride share one feature map.
        last = layer
        while last < opts.num_layers and opts.strides[last] == opts.strides[layer]:
            last += 1
        shapes = _layer_shapes(opts, layer, last)
        stride = opts.strides[layer]
        fm_h = math.ceil(opts.input_height / stride)
        fm_w = math.ceil(opts.input_width / stride)
        for y in range(fm_h):
            for x in range(fm_w):
                cx = (x + opts.offset_x) / fm_w
                cy = (y + opts.offset_y) / fm_h
                for w, h in shapes:
                    rows.append((cx, cy, 1.0, 1.0) if opts.fixed_anchor_size else (cx, cy, w, h))
        layer = last
    return np.asarray(rows, dtype=np.float32)
