"""``run_add``: the cloud's way to add a dance (a ``reference add --events`` child
process) gives the same result, refusal and errors as the in-process call."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.reference import load_reference
from common.reference_add import AddOptions, ReferenceAddError, ReferenceRejected, run_add
from tests.edge import reference_fixtures as fx

pytest.importorskip("av")


@pytest.mark.slow  # two child processes, each importing the pose stack and librosa
def test_run_add_reports_progress_result_and_refusal(tmp_path: Path) -> None:
    video, npy = fx.clip(tmp_path, "solo", fx.dancer(3.0))
    options = AddOptions(root=tmp_path / "dances", backend="replay", keypoints=npy)
    seen: list[tuple[str, int, int]] = []
    result = run_add(video, "solo", options, lambda *a: seen.append(a))
    assert result.path == tmp_path / "dances" / "solo" and result.report.passed
    assert load_reference("solo", tmp_path / "dances").frames == 90
    assert ("pose", 90, 90) in seen and seen[-1][0] == "write"

    video, npy = fx.clip(tmp_path, "pair", fx.with_second_person(fx.dancer(3.0)))
    options = options.model_copy(update={"keypoints": npy})
    with pytest.raises(ReferenceRejected) as info:
        run_add(video, "pair", options)
    assert "several_people" in {p.code for p in info.value.report.problems}
    assert not (tmp_path / "dances" / "pair").exists()


def test_run_add_says_why_a_child_failed(tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(ReferenceAddError, match="not a video"):
        run_add(bad, "notes", AddOptions(root=tmp_path, audio=False))
