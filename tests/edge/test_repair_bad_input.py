"""Repair and smoothing on the bad input real captures bring: a joint never seen, a
capture that starts with nobody in view, and dropped frames (gaps in the timestamps)."""

from __future__ import annotations

import numpy as np

from edge.repair import Repairer
from edge.settings import SmoothingSettings
from edge.smoothing import KeypointPipeline
from edge.smoothing_metrics import joint_errors
from protocol.skeleton import KP
from tests.edge.trajectories import corrupt, dancer

WRIST, ELBOW = KP["left_wrist"], KP["left_elbow"]


def test_a_joint_absent_from_the_whole_clip_stays_flagged_and_drags_nobody() -> None:
    truth = corrupt(dancer(90, seed=11), seed=11, jitter=0.0).seq
    absent = truth.copy()
    absent[:, WRIST] = 0.0  # confidence 0 throughout (and no position)
    repairer = Repairer(SmoothingSettings(), fps=30)
    outs = [repairer.step(f, i / 30) for i, f in enumerate(absent)]
    out = np.array([o for o, _ in outs])
    imputed = np.array([m for _, m in outs])
    assert imputed[:, WRIST].all()
    assert not imputed[:, np.arange(17) != WRIST].any()
    # Its neighbours pass through as observed: the elbow is exactly the input.
    np.testing.assert_array_equal(out[:, ELBOW, :2], truth[:, ELBOW, :2])


def test_a_capture_that_starts_with_nobody_in_view_warms_up_without_a_jump() -> None:
    truth = dancer(60, seed=12)
    frames = truth.copy()
    frames[:15, :, 2] = 0.0  # nobody there for half a second: confidence 0 everywhere
    frames[:15, :, :2] = 0.0
    pipeline = KeypointPipeline(SmoothingSettings(), fps=30)
    out = np.array([pipeline.process(f, np.zeros((0, 3)), i / 30)[0] for i, f in enumerate(frames)])
    # From the first frame the dancer is seen, the output is as if the capture had
    # started there: on the dancer, not on its way from where the empty frames left it.
    fresh = KeypointPipeline(SmoothingSettings(), fps=30)
    start = [fresh.process(f, np.zeros((0, 3)), (i + 15) / 30)[0] for i, f in enumerate(truth[15:])]
    late, clean = joint_errors(out[15:], truth[15:]), joint_errors(np.array(start), truth[15:])
    assert late[0].max() < 1.0  # % torso
    assert np.abs(late - clean).max() < 1.0


def test_dropped_frames_are_handled_by_time_not_by_frame_count() -> None:
    truth = dancer(240, seed=13)
    keep = np.ones(len(truth), dtype=bool)
    keep[40::10] = keep[41::10] = keep[42::10] = keep[43::10] = False  # 4 of every 10 lost
    repairer = Repairer(SmoothingSettings(), fps=30)
    imputed = np.array([repairer.step(truth[i], i / 30)[1] for i in np.flatnonzero(keep)])
    # Clean input: nothing is an outlier, however far the dancer moved over a gap.
    assert imputed.mean() < 0.002
