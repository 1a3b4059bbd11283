"""Frame sources behind one interface (:class:`~edge.sources.base.FrameSource`), with an
explicit registry keyed by the settings' ``type``; implementations are imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

from edge.sources.base import FrameSource, SourceError

__all__ = ["SOURCES", "FrameSource", "SourceError", "create_source"]

# settings type -> "module:class"; each class takes (settings, width, height, fps, duration_s).
SOURCES: dict[str, str] = {
    "camera": "edge.sources.camera:CameraFrameSource",
    "video": "edge.sources.video:VideoFrameSource",
    "synthetic": "edge.sources.synthetic:SyntheticFrameSource",
}


def create_source(
    settings: Any, width: int, height: int, fps: float, duration_s: float | None = None
) -> FrameSource:
    """Build the source named by ``settings.type`` (not yet opened)."""
    kind = str(getattr(settings, "type", None))
    target = SOURCES.get(kind)
    if target is None:
        raise SourceError(f"unknown source {kind!r}; choose one of: {', '.join(sorted(SOURCES))}")
    module_name, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    source: FrameSource = cls(settings, width, height, fps, duration_s)
    return source
