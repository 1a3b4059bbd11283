"""Framing the live dancer: steady while they dance, picked afresh when they leave or move."""

from __future__ import annotations

from cloud.mirror.framing import LiveFraming
from tests.cloud.mirror.helpers import live, standing

MS = 1_000_000


def test_the_window_stays_while_the_dancer_dances_in_it() -> None:
    framing = LiveFraming(absent_s=1.0, reframe_after_s=0.5)
    first = framing.update(live(0, standing(), capture_ns=0))
    assert first is not None
    for i in range(1, 60):
        kps = standing(cx=320 + 10 * (i % 3), wave=(i % 10) / 10)
        assert framing.update(live(i, kps, capture_ns=i * 33 * MS)) == first
    assert framing.reframes == 1


def test_nobody_in_view_shows_nothing_and_the_next_dancer_gets_a_new_window() -> None:
    framing = LiveFraming(absent_s=1.0, reframe_after_s=0.5)
    assert framing.update(live(0, people=0, capture_ns=0)) is None
    first = framing.update(live(1, standing(cx=200), capture_ns=100 * MS))
    # A short dropout keeps the window (the dancer turned; the backend lost them).
    assert framing.update(live(2, people=0, capture_ns=500 * MS)) == first
    assert framing.update(live(3, people=0, capture_ns=1500 * MS)) is None
    second = framing.update(live(4, standing(cx=450), capture_ns=1600 * MS))
    assert second is not None and second != first and framing.reframes == 2


def test_a_dancer_who_walks_out_of_the_window_is_framed_again() -> None:
    framing = LiveFraming(absent_s=1.0, reframe_after_s=0.5)
    first = framing.update(live(0, standing(cx=200, height=200), capture_ns=0))
    moved = standing(cx=500, height=200)
    assert framing.update(live(1, moved, capture_ns=100 * MS)) == first  # not yet: a jump?
    again = framing.update(live(2, moved, capture_ns=700 * MS))
    assert again is not None and again != first
    assert again.x0 <= 400 and again.x0 + again.size >= 600
