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


def create_estimator(settings: Any) -> PoseEstimator:
    """Build the backend named by ``settings.type``; fail with what to do if it cannot run."""
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
        estimator: PoseEstimator = cls(settings)
    except PoseError as exc:
        # Name the backend: the node's log shows this line alone at start-up.
        raise PoseError(f"pose backend {kind!r} cannot start: {exc}") from exc
    return estimator
