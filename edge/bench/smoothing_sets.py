"""The captures ``dancebooth bench edge smoothing`` scores: synthetic visitors and real
human motion, each seen by the booth camera and corrupted by the estimator-like
:class:`~edge.synthetic.noise.NoiseModel`.

A set is a list of named clips; each clip is scored over a few noise seeds (a real
clip lasts 1-4 s, a synthetic visitor 15 s). The real clips are motion capture
(:mod:`edge.bench.realmotion`): the scored ones are never the ones ``--tune`` sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import click
import numpy as np
import numpy.typing as npt

from edge.bench.realmotion import SCORED, TUNING, clip_truth
from protocol.skeleton import NUM_KEYPOINTS

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SETS = ("synthetic", "real")


@dataclass
class Capture:
    """One noisy capture with its truth and the joints the repairer lost."""

    truth: FloatArray  # [T, J, 3]
    noisy: FloatArray  # [T, J, 3]
    lost: BoolArray  # [T, J] imputed by the online repairer (scored for every method)
    clip: str = ""  # the visitor or motion clip it shows


def noisy_capture(truth: npt.ArrayLike, seed: int, fps: float, clip: str) -> Capture:
    """``truth [T, 17|21, 3]`` through the default noise model's stream ``seed``."""
    from edge.bench.smoothing import online  # the bench's runner: imported late (cycle)
    from edge.settings import SmoothingSettings
    from edge.synthetic.noise import NoiseModel

    seen = np.asarray(truth, np.float64)
    stream = NoiseModel().stream(seed)
    rows = []
    for frame in seen:
        row = stream(frame[:NUM_KEYPOINTS])
        if len(frame) > NUM_KEYPOINTS:
            row = np.concatenate([row, stream.extras(frame[NUM_KEYPOINTS:])])
        rows.append(row)
    noisy = np.asarray(rows, np.float64)
    lost = online(noisy, fps, SmoothingSettings(), smooth=False, mask_out=True).lost
    return Capture(seen, noisy, lost, clip)


def synthetic_captures(
    visitors: int, fps: float, duration_s: float, width: int, height: int, seed: int,
    extras: bool = True,
) -> list[Capture]:  # fmt: skip
    """Synthetic visitors' dances, ``visitors`` of them from ``seed`` on; ``[T, 21, 3]``
    with the foot extras (as BlazePose gives), else ``[T, 17, 3]``."""
    try:
        from edge.synthetic.visitor import make_visitor
    except ImportError as exc:  # the synthetic booth is part of the edge package
        raise click.ClickException(f"the synthetic booth is not available: {exc}") from exc
    out = []
    for k in range(visitors):
        seen = make_visitor(seed + k).observed(width, height, fps, duration_s)
        truth = seen if extras else seen[:, :NUM_KEYPOINTS]
        out.append(noisy_capture(truth, seed + k, fps, f"visitor {seed + k}"))
    return out


def real_captures(
    seeds: int, fps: float, width: int, height: int, seed: int, extras: bool = True,
    tuning: bool = False,
) -> list[Capture]:  # fmt: skip
    """The scored motion-capture clips (or, ``tuning``, the others), each under
    ``seeds`` noise streams from ``seed`` on."""
    out = []
    for name in TUNING if tuning else SCORED:
        truth = clip_truth(name, width, height, fps)
        truth = truth if extras else truth[:, :NUM_KEYPOINTS]
        out += [noisy_capture(truth, seed + k, fps, name) for k in range(seeds)]
    return out


def by_clip(captures: list[Capture]) -> dict[str, list[Capture]]:
    """The captures grouped by clip, in order of first appearance."""
    groups: dict[str, list[Capture]] = {}
    for c in captures:
        groups.setdefault(c.clip, []).append(c)
    return groups
