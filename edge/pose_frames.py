"""The booth's pose estimator on a batch of still frames (rendered ones, for the gate).

:func:`estimate_frames` runs BlazePose (the nodes' CPU backend) on every frame and keeps
the best person. ``dancebooth edge pose-frames`` is the same as a command: on one
``.npz`` (``frames`` and ``index``), or with ``--serve`` as the long-lived child the
cloud asks (:class:`common.pose_check.PoseServer`): one ``.npz`` path a line on stdin,
one JSON answer a line on stdout.

The frames come as short runs of consecutive video frames (their numbers in ``index``):
within a run the tracker carries the person over (the landmark model alone: about half
the cost of a detection); at a gap it is reset, since a region from frames that far
back would be a guess, and a landmark run on a wrong region can still claim a person.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import click
import numpy as np

from common.pose_check import Frames, Keypoints, PoseFramesEvent, check_frames
from edge.frames import Frame
from edge.pose.base import PoseError, PoseEstimator
from edge.settings import BlazePoseSettings

logger = logging.getLogger(__name__)


def gate_settings() -> BlazePoseSettings:
    """One person, no mask: the gate wants the dancer's joints, nothing else."""
    return BlazePoseSettings(max_people=1, person_mask=False, redetect_every=0)


def estimate_frames(
    frames: Frames, index: Sequence[int] | None = None, estimator: PoseEstimator | None = None
) -> list[Keypoints | None]:
    """The best person's ``[17, 3]`` keypoints per frame (None where nobody was found);
    without ``index`` every frame stands alone."""
    arr = check_frames(frames, index)
    numbers = list(index) if index is not None else list(range(0, 2 * len(arr), 2))
    own = estimator is None
    if estimator is None:
        from edge.pose import build_estimator

        estimator = build_estimator(gate_settings())
    try:
        out: list[Keypoints | None] = []
        previous: int | None = None
        for number, image in zip(numbers, arr, strict=True):
            if previous is None or number != previous + 1:
                estimator.reset()
            previous = number
            people = estimator.estimate(Frame(number, 0, np.ascontiguousarray(image)))
            out.append(people[0].keypoints.astype(np.float32) if people else None)
        return out
    finally:
        if own:
            estimator.close()


def answer(path: Path, estimator: PoseEstimator) -> PoseFramesEvent:
    """One request: the ``.npz`` at ``path`` estimated, or the error."""
    try:
        with np.load(path, allow_pickle=False) as data:
            frames, index = data["frames"], [int(i) for i in data["index"]]
        start = time.perf_counter()
        found = estimate_frames(frames, index, estimator)
    except (OSError, KeyError, ValueError, PoseError) as exc:
        return PoseFramesEvent(event="error", message=f"{path}: {exc}")
    rows = [None if k is None else k.tolist() for k in found]
    return PoseFramesEvent(event="result", keypoints=rows, seconds=time.perf_counter() - start)


@click.command("pose-frames")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--serve", is_flag=True, help="Answer .npz paths read from stdin, one a line.")
def pose_frames(path: Path | None, serve: bool) -> None:
    """Run BlazePose on the frames of an .npz (``frames`` [N, H, W, 3] uint8 BGR, ``index``
    [N] frame numbers) and print the best person's COCO-17 keypoints per frame as JSON."""
    if (path is None) == (not serve):
        raise click.UsageError("give one .npz path, or --serve to read paths from stdin")
    from edge.pose import build_estimator

    try:
        estimator = build_estimator(gate_settings())
    except PoseError as exc:
        if not serve:
            raise click.ClickException(str(exc)) from None
        click.echo(PoseFramesEvent(event="error", message=str(exc)).model_dump_json())
        raise SystemExit(1) from None
    with estimator:
        if path is not None:
            click.echo(answer(path, estimator).model_dump_json())
            return
        for line in sys.stdin:
            if line.strip():
                click.echo(answer(Path(line.strip()), estimator).model_dump_json())
