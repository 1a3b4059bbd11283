"""Which dances a booth offers, and which one a visitor performs.

A booth's enabled dances are its ``booth_dances`` rows, in rotation order. A booth whose
operators enabled none performs the configured default (``worker.dance``), as before
the Dances page existed. A visitor who chose at the kiosk gets their choice; everyone
else gets the next enabled dance in order, or one at random (``booths.rotation``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session as Db

from cloud.dances import DanceConflictError
from cloud.db.lifecycle import ensure_booth
from cloud.db.models import Booth, BoothDance

Mode = Literal["order", "random"]
MODES: tuple[Mode, ...] = ("order", "random")


@dataclass(frozen=True)
class Rotation:
    mode: Mode
    dances: list[str]  # enabled, in order
    configured: bool  # False: nothing enabled yet, the booth performs the default


def rotation(db: Db, booth: str, default: str) -> Rotation:
    names = list(
        db.scalars(
            select(BoothDance.dance)
            .where(BoothDance.booth_id == booth)
            .order_by(BoothDance.position, BoothDance.dance)
        )
    )
    row = db.get(Booth, booth)
    mode: Mode = "random" if row is not None and row.rotation == "random" else "order"
    return Rotation(mode, names or [default], bool(names))


def set_rotation(
    db: Db, booth: str, mode: Mode, names: Sequence[str], usable: Callable[[str], str | None]
) -> Rotation:
    """Enable exactly ``names`` in this order; ``usable(name)`` says why one cannot be."""
    if not names:
        raise DanceConflictError("enable at least one dance: the booth needs one to render")
    if len(set(names)) != len(names):
        raise DanceConflictError("each dance can be enabled once")
    for name in names:
        why = usable(name)
        if why is not None:
            raise DanceConflictError(why)
    ensure_booth(db, booth)
    db.execute(delete(BoothDance).where(BoothDance.booth_id == booth))
    db.add_all(BoothDance(booth_id=booth, dance=n, position=i) for i, n in enumerate(names))
    db.execute(update(Booth).where(Booth.id == booth).values(rotation=mode, rotation_next=0))
    db.flush()
    return Rotation(mode, list(names), True)


def is_enabled_anywhere(db: Db, name: str) -> list[str]:
    """The booths that have ``name`` enabled."""
    return list(db.scalars(select(BoothDance.booth_id).where(BoothDance.dance == name)))


def assign(db: Db, booth: str, default: str, chosen: str | None = None) -> str:
    """The dance a newly registered visitor performs: their choice, else the rotation's."""
    current = rotation(db, booth, default)
    if chosen is not None:
        if chosen not in current.dances:
            offered = ", ".join(current.dances)
            raise DanceConflictError(
                f"the booth does not offer {chosen!r} now; choose one of: {offered}"
            )
        return chosen
    if len(current.dances) == 1:
        return current.dances[0]
    if current.mode == "random":
        return random.choice(current.dances)
    ensure_booth(db, booth)
    # One UPDATE ... RETURNING: two kiosks registering at once get consecutive turns.
    turn = db.scalar(
        update(Booth)
        .where(Booth.id == booth)
        .values(rotation_next=Booth.rotation_next + 1)
        .returning(Booth.rotation_next)
    )
    return current.dances[(int(turn or 1) - 1) % len(current.dances)]
