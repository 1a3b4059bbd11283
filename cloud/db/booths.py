"""A booth's own settings, kept on its row: its name and how its renditions are laid out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session as Db

from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Booth, Session

LAYOUTS: Final = ("solo", "side-by-side")  # cloud.render.layout.Layout
CAPTURE_MODES: Final = ("guided", "free")  # cloud.settings.ApiSettings.capture_length


@dataclass(frozen=True)
class BoothLook:
    """What a booth's renditions look like: the name on their cards and their layout."""

    id: str
    name: str
    layout: str

    @property
    def title(self) -> str:
        return self.name or self.id


def booth_look(db: Db, booth: str) -> BoothLook:
    row = db.get(Booth, booth)
    if row is None:
        return BoothLook(booth, "", "solo")
    return BoothLook(row.id, row.name, row.layout or "solo")


def session_booth_look(db: Db, session: str) -> BoothLook | None:
    """The look of the booth ``session`` was captured at (None: unknown session)."""
    row = db.get(Session, session)
    return booth_look(db, row.booth_id) if row is not None else None


def set_booth_look(
    db: Db, booth: str, *, layout: str | None = None, name: str | None = None
) -> BoothLook:
    """Change a booth's layout and/or name (the row is made if missing); commits."""
    if layout is not None and layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    row = ensure_booth(db, booth)
    if layout is not None:
        row.layout = layout
    if name is not None:
        row.name = name
    db.commit()
    return booth_look(db, booth)


def booth_capture_mode(db: Db, booth: str) -> str | None:
    """The booth's own choice of guided or free dance; None: the deployment's."""
    row = db.get(Booth, booth)
    return row.capture_mode if row is not None else None


def set_booth_capture_mode(db: Db, booth: str, mode: str) -> None:
    """Guided or free dance at ``booth`` from its next capture on (the row is made if
    missing); the caller commits."""
    if mode not in CAPTURE_MODES:
        raise ValueError(f"capture mode must be one of {', '.join(CAPTURE_MODES)}, got {mode!r}")
    row = ensure_booth(db, booth)
    row.capture_mode = mode
