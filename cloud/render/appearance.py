"""Appearance consistency: does the generated person still look like the visitor?

Per body part (head, torso, legs) a signature of the pixels inside the part: a
hue-saturation histogram (colour, with brightness left out so the booth's light on a
turning body does not count) and a histogram of gradient magnitudes (texture: a plain
shirt against a striped one, a sharp face against a smear). Parts are placed from the
keypoints (the torso's quadrilateral, thick hip-knee-ankle lines, a disc at the head),
cut by the person mask where there is one (the capture's ``mask.png``; a dancer-only
generator's alpha), on frames brought to the same scale (the capture's frames cropped
like the training crop and resized to the generator's resolution).

Distances are OpenCV's Bhattacharyya distance (0 alike, 1 disjoint). The capture's samples
are pooled into one signature per part; each rendered sample is compared with it, and a
part **drifts** when its last third of samples is further from the visitor than its first
third.

What says "this is still the visitor" is the **colour** distance, **averaged over the
parts** (:attr:`Appearance.overall`); the worst part names where it is furthest, and the
texture distance is reported beside it. On ``dancebooth bench gate`` (8 synthetic
visitors, docs/benchmarks.md) the texture distance ranked good renditions against another
visitor's or the untrained generator with AUC 0.60-0.74: at 128 px it measures how sharp
the generator draws (a good fine-tune's torso scored up to 0.46, another visitor's
generator 0.20; blurring the visitor's own frames moves it further than another visitor
does, tests/cloud/render/test_appearance.py), which every generator grown from the booth
checkpoint shares. Someone else's look differs in the colours of head, torso
and legs together, while a good fine-tune may miss one part's shade (a good rendition's
torso reached colour 0.56): the parts' mean separated good (at most 0.38) from broken (at
least 0.50), where the worst part's colour-and-texture mean left 0.44 against 0.45.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import cv2
import numpy as np
import numpy.typing as npt

from protocol.skeleton import KP, torso_length

Image = npt.NDArray[np.uint8]
Keypoints = npt.NDArray[np.float32]
Region = npt.NDArray[np.bool_]

PARTS: Final = ("head", "torso", "legs")
HS_BINS: Final = (16, 8)
GRAD_BINS: Final = 8
GRAD_MAX: Final = 96.0  # Sobel magnitudes (grey levels per pixel) beyond this share a bin
MIN_PIXELS: Final = 12  # a part with fewer pixels in a frame is not seen there
MIN_CONF: Final = 0.3


@dataclass(frozen=True)
class Signature:
    """Histograms of one part, summed over the frames it was seen in (unnormalised)."""

    colour: npt.NDArray[np.float32]
    texture: npt.NDArray[np.float32]
    pixels: int

    def __add__(self, other: Signature) -> Signature:
        return Signature(
            self.colour + other.colour, self.texture + other.texture, self.pixels + other.pixels
        )


def part_regions(
    kps: Keypoints, shape: tuple[int, int], mask: Image | None = None
) -> dict[str, Region]:
    """Where each part is in a ``shape`` (h, w) frame; cut by ``mask`` (>127) if given."""
    h, w = shape
    unit = _torso(kps)
    out: dict[str, Region] = {}
    canvas = np.zeros((h, w), np.uint8)
    if math.isnan(unit):
        return {p: canvas.astype(bool) for p in PARTS}
    seen = kps[:, 2] >= MIN_CONF
    torso = [KP[n] for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
    t = canvas.copy()
    cv2.fillConvexPoly(t, np.round(kps[torso, :2]).astype(np.int32), 1)
    out["torso"] = t > 0
    legs = canvas.copy()
    thick = max(1, round(0.35 * unit))
    for side in ("left", "right"):
        chain = [KP[f"{side}_hip"], KP[f"{side}_knee"], KP[f"{side}_ankle"]]
        for a, b in itertools.pairwise(chain):
            if seen[a] and seen[b]:
                p, q = (tuple(int(v) for v in np.round(kps[i, :2])) for i in (a, b))
                cv2.line(legs, p, q, 1, thick)
    out["legs"] = legs > 0
    head = canvas.copy()
    points = [i for i in (KP["nose"], KP["left_ear"], KP["right_ear"]) if seen[i]]
    if points:
        cx, cy = np.round(kps[points, :2].mean(axis=0)).astype(int)
        cv2.circle(head, (int(cx), int(cy)), max(1, round(0.3 * unit)), 1, -1)
    out["head"] = head > 0
    if mask is not None:
        m = (
            mask
            if mask.shape[:2] == (h, w)
            else cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
        )
        person = np.asarray(m) > 127
        out = {p: r & person for p, r in out.items()}
    return out


def _torso(kps: Keypoints) -> float:
    size = torso_length(kps)
    return size if size >= 2.0 else math.nan


def signature(image: Image, region: Region) -> Signature | None:
    """The part's histograms in ``image`` (BGR), or None if the part is barely seen."""
    n = int(region.sum())
    if n < MIN_PIXELS:
        return None
    m = region.astype(np.uint8)
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    colour = cv2.calcHist([hsv], [0, 1], m, list(HS_BINS), [0, 180, 0, 256])
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    mag = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    mag = np.minimum(mag, GRAD_MAX - 1e-3)
    texture = cv2.calcHist([mag], [0], m, [GRAD_BINS], [0, GRAD_MAX])
    return Signature(colour.astype(np.float32), texture.astype(np.float32), n)


def distance(a: Signature, b: Signature) -> float:
    """The colour (hue-saturation) Bhattacharyya distance (0 alike .. 1 disjoint)."""
    return float(cv2.compareHist(_norm(a.colour), _norm(b.colour), cv2.HISTCMP_BHATTACHARYYA))


def texture_distance(a: Signature, b: Signature) -> float:
    """The gradient-magnitude Bhattacharyya distance (0 alike .. 1 disjoint)."""
    return float(cv2.compareHist(_norm(a.texture), _norm(b.texture), cv2.HISTCMP_BHATTACHARYYA))


def _norm(h: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    total = float(h.sum())
    return h / total if total > 0 else h


def signatures(
    images: Sequence[Image], keypoints: Sequence[Keypoints], masks: Sequence[Image | None]
) -> list[dict[str, Signature | None]]:
    """Per frame, each part's signature (None where it is not seen)."""
    if not len(images) == len(keypoints) == len(masks):
        raise ValueError(f"{len(images)} frames, {len(keypoints)} poses, {len(masks)} masks")
    out = []
    for img, kps, mask in zip(images, keypoints, masks, strict=True):
        regions = part_regions(np.asarray(kps, np.float32), img.shape[:2], mask)
        out.append({p: signature(img, regions[p]) for p in PARTS})
    return out


def pooled(frames: Sequence[dict[str, Signature | None]]) -> dict[str, Signature | None]:
    """Each part's signature summed over the frames it was seen in."""
    out: dict[str, Signature | None] = {}
    for p in PARTS:
        total: Signature | None = None
        for f in frames:
            s = f[p]
            if s is not None:
                total = s if total is None else total + s
        out[p] = total
    return out


@dataclass(frozen=True)
class Appearance:
    """Colour distances to the visitor per part (pooled, per sample, the drift), and the
    texture distance per part beside them."""

    parts: dict[str, float | None]  # pooled rendition vs pooled capture (None: unseen)
    series: dict[str, list[float | None]]  # per rendered sample
    drift: dict[str, float | None]  # mean of the last third minus mean of the first third
    seen: dict[str, float]  # share of rendered samples the part was seen in
    texture: dict[str, float | None] = field(default_factory=dict)  # pooled, reported only

    @property
    def overall(self) -> float | None:
        """The parts' mean: the figure the gate holds a rendition on (None: none seen)."""
        values = [v for v in self.parts.values() if v is not None]
        return float(np.mean(values)) if values else None

    @property
    def worst(self) -> float | None:
        values = [v for v in self.parts.values() if v is not None]
        return max(values) if values else None

    @property
    def worst_drift(self) -> float | None:
        values = [v for v in self.drift.values() if v is not None]
        return max(values) if values else None

    def report(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "parts": self.parts,
            "texture": self.texture,
            "drift": self.drift,
            "seen": self.seen,
            "worst": self.worst,
            "worst_drift": self.worst_drift,
            "series": self.series,
        }


def compare(
    visitor: Sequence[dict[str, Signature | None]],
    rendered: Sequence[dict[str, Signature | None]],
) -> Appearance:
    """The rendition's per-frame signatures against the visitor's capture."""
    if not rendered:
        raise ValueError("no rendered frames to compare")
    ref = pooled(visitor)
    mine = pooled(rendered)
    parts: dict[str, float | None] = {}
    series: dict[str, list[float | None]] = {}
    drift: dict[str, float | None] = {}
    seen: dict[str, float] = {}
    texture: dict[str, float | None] = {}
    for p in PARTS:
        r, m = ref[p], mine[p]
        parts[p] = distance(r, m) if r is not None and m is not None else None
        texture[p] = texture_distance(r, m) if r is not None and m is not None else None
        row: list[float | None] = []
        for f in rendered:
            s = f[p]
            row.append(distance(r, s) if r is not None and s is not None else None)
        series[p] = row
        seen[p] = sum(v is not None for v in row) / len(row)
        drift[p] = _drift(row)
    return Appearance(parts, series, drift, seen, texture)


def _drift(row: list[float | None]) -> float | None:
    third = len(row) // 3
    if third < 2:
        return None
    first = [v for v in row[:third] if v is not None]
    last = [v for v in row[-third:] if v is not None]
    if len(first) < 2 or len(last) < 2:
        return None
    return float(np.mean(last) - np.mean(first))
