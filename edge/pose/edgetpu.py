"""Starting a backend on the Edge TPU: probe it, then trust it, fall back, or say why not.

What a node runs when its Edge TPU is unusable (:mod:`edge.pose.probe` saw a crash, a
hang or an error) is the setting ``edgetpu.fallback``: ``cpu`` runs the same backend
with the model's CPU variant (Coral names it without ``_edgetpu``), ``none`` keeps the
node capturing and uploading frames without poses. Either way the node's status says
so, and every frame's pose failure carries the reason.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from edge.frames import Frame
from edge.pose import build_estimator
from edge.pose.base import Person, PoseError, PoseEstimator
from edge.pose.coral import FETCH_CORAL_HINT, cpu_variant
from edge.pose.probe import TpuSettings, probe

logger = logging.getLogger(__name__)


class Unusable(PoseEstimator):
    """A backend whose Edge TPU failed its probe, with no fallback: every frame is refused
    with the reason, so frames still flow and each failure is counted."""

    name: ClassVar[str] = "unusable"

    def __init__(self, backend: str, reason: str) -> None:
        self.backend = backend
        self.reason = reason

    def describe(self) -> str:
        return f"{self.backend}: Edge TPU unusable"[:32]

    def estimate(self, frame: Frame) -> list[Person]:
        raise PoseError(f"Edge TPU unusable: {self.reason}")


class CpuFallback(PoseEstimator):
    """The backend on the CPU because its Edge TPU failed the probe."""

    name: ClassVar[str] = "cpu-fallback"

    def __init__(self, inner: PoseEstimator, reason: str) -> None:
        self.inner = inner
        self.reason = reason

    def describe(self) -> str:
        return f"{self.inner.name} cpu (Edge TPU unusable)"[:32]

    @property
    def tflite_models(self) -> dict[str, Any]:
        return dict(getattr(self.inner, "tflite_models", {}))

    def estimate(self, frame: Frame) -> list[Person]:
        return self.inner.estimate(frame)

    def reset(self) -> None:
        self.inner.reset()

    def close(self) -> None:
        self.inner.close()


def resolved(settings: TpuSettings, frame_size: tuple[int, int]) -> TpuSettings:
    """The settings with the files to load made absolute (a configuration error is raised
    here, in this process: it is not the Edge TPU's fault)."""
    if settings.type == "posenet":
        from edge.pose import posenet

        return posenet.resolved(settings, frame_size)
    from edge.pose import movenet

    return movenet.resolved(settings, frame_size)


def cpu_settings(settings: TpuSettings) -> TpuSettings:
    assert settings.model_path is not None
    cpu_model = cpu_variant(settings.model_path)
    if not cpu_model.is_file():
        raise PoseError(
            f"the CPU fallback needs {cpu_model.name} beside {settings.model_path.name}: "
            f"{FETCH_CORAL_HINT}"
        )
    return settings.model_copy(update={"device": "cpu", "model_path": cpu_model})


def start_on_edgetpu(settings: TpuSettings, frame_size: tuple[int, int]) -> PoseEstimator:
    """The backend on the Edge TPU if the probe ran; else the fallback the settings name."""
    settings = resolved(settings, frame_size)
    result = probe(settings, frame_size)
    if result.ok:
        logger.info(
            "Edge TPU probe passed (%s, first inference %.0f ms)", result.runtime, result.invoke_ms
        )
        return build_estimator(settings, frame_size=frame_size)
    logger.error("Edge TPU unusable: %s", result.reason)
    if settings.edgetpu.fallback == "none":
        return Unusable(settings.type, result.reason)
    logger.warning("running %s on the CPU instead (edgetpu.fallback: cpu)", settings.type)
    try:
        inner = build_estimator(cpu_settings(settings), frame_size=frame_size)
    except PoseError as exc:  # the node still stays up, saying both
        logger.error("the CPU fallback cannot start either: %s", exc)
        return Unusable(settings.type, f"{result.reason}; and the CPU fallback: {exc}")
    return CpuFallback(inner, result.reason)
