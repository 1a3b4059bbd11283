"""Where the shipped booth checkpoints are: ``models/booth-<resolution>.safetensors``.

A light module (no torch), for the mirror, the demo, the training CLI and the benchmarks.
"""

from __future__ import annotations

from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "models"


def booth_checkpoint(resolution: int) -> Path:
    """The booth checkpoint shipped for ``resolution`` px (it may not exist)."""
    return MODELS / f"booth-{resolution}.safetensors"


DEFAULT_BOOTH_CHECKPOINT = booth_checkpoint(128)
