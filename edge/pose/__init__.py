"""Pose backends behind one interface (:class:`~edge.pose.base.PoseEstimator`), with an
explicit registry. Backends are imported only when chosen, so a node installs only
what its backend needs."""

from __future__ import annotations

import importlib
from typing import Any

from edge.pose.base import PoseError, PoseEstimator

# type name in the settings -> "module:class". Each class takes its settings group.
BACKENDS: dict[str, str] = {
    "blazepose": "edge.pose.blazepose:BlazePose",
    "movenet": "edge.pose.movenet:MoveNet",
    "posenet": "edge.pose.posenet:PoseNet",
    "replay": "edge.pose.replay:ReplayEstimator",
}


def build_estimator(settings: Any, *, frame_size: tuple[int, int] | None = None) -> PoseEstimator:
    """Build the backend named by ``settings.type`` in this process; fail with what to do
    if it cannot run. ``frame_size`` (w, h) lets a backend pick the model for the camera."""
    kind = getattr(settings, "type", None)
    target = BACKENDS.get(str(kind))
    if target is None:
        known = ", ".join(sorted(BACKENDS)) or "none"
        raise PoseError(f"unknown pose backend {kind!r}; choose one of: {known}")
    module_name, cls_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PoseError(
            f"pose backend {kind!r} needs {exc.name}, which is not installed: "
            "pip install 'dancebooth[edge]'"
        ) from exc
    cls = getattr(module, cls_name)
    try:
        if cls.takes_frame_size:
            estimator: PoseEstimator = cls(settings, frame_size=frame_size)
        else:
            estimator = cls(settings)
    except PoseError as exc:
        # Name the backend: the node's log shows this line alone at start-up.
        raise PoseError(f"pose backend {kind!r} cannot start: {exc}") from exc
    return estimator


def create_estimator(settings: Any, *, frame_size: tuple[int, int] | None = None) -> PoseEstimator:
    """The node's backend. On an Edge TPU it is probed in a child process first
    (:mod:`edge.pose.edgetpu`): a runtime that crashes or hangs leaves the node up, on the
    CPU fallback or reporting the Edge TPU unusable, instead of killing it."""
    if getattr(settings, "device", "cpu") == "edgetpu" and settings.edgetpu.probe_timeout_s > 0:
        from edge.pose.edgetpu import start_on_edgetpu

        return start_on_edgetpu(settings, frame_size or (640, 480))
    return build_estimator(settings, frame_size=frame_size)
