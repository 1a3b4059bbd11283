"""Contact sheets of what a backend finds, and the ``edge pose-sheet`` command."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from click.testing import CliRunner

from edge.cli import edge
from edge.pose.models import FETCH_HINT, model_path
from edge.pose.sheet import GREEN, Tile, contact_sheet, look
from tests.edge.pose.test_tracking import Scripted, person
from tests.services import missing


def test_sheet_packs_tiles_into_rows_and_boxes_the_dancer() -> None:
    img = np.zeros((480, 640, 3), np.uint8)
    tile = look(Scripted([[person(100, 150, 200), person(330, 40, 400)]] * 2), "two", img)
    assert tile.dancer == 1 and len(tile.people) == 2
    sheet = contact_sheet([tile] * 5, height=240, width=1000)
    assert sheet.shape == (480, 960, 3)  # 320 px tiles: three in the first row, two in the next
    assert (sheet[:240, :320] == GREEN).all(axis=2).any()  # the dancer's box is drawn
    assert (sheet[240:, 640:] == 0).all()  # the short row is padded


def test_empty_tile_still_has_a_caption() -> None:
    img = np.full((100, 100, 3), 255, np.uint8)
    sheet = contact_sheet([Tile("none", img, [], None)], height=100)
    assert (sheet[:26] == 0).mean() > 0.6 and (sheet[30:] == 255).all()  # caption bar


def test_command_writes_a_sheet_and_refuses_non_images(tmp_path: Path) -> None:
    try:
        model_path("pose_landmark_full.tflite")
    except Exception:
        missing("the BlazePose models", FETCH_HINT)
    photo = tmp_path / "me.jpg"
    cv2.imwrite(str(photo), cv2.resize(np.full((64, 64, 3), 128, np.uint8), (320, 240)))
    out = tmp_path / "sheet.png"
    result = CliRunner().invoke(edge, ["pose-sheet", str(photo), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "me.jpg: 0 people" in result.output
    assert cv2.imread(str(out)) is not None
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    out2 = tmp_path / "sheet2.png"
    result = CliRunner().invoke(edge, ["pose-sheet", str(text), "-o", str(out2)])
    assert result.exit_code != 0 and "not readable as images: notes.txt" in result.output
    assert not out2.exists()
