"""Adding a reference dance from a video: the options, the quality report, the result and
the refusal, shared by the edge (which runs the pipeline) and the cloud (which asks for it).

Two ways in, one pipeline, the same signature::

    add_reference(video: Path, name: str, options: AddOptions,
                  progress: AddProgress | None = None) -> AddResult

- in process: :func:`edge.reference_add.add_reference` (edge, CLI, tests, benchmarks);
- from the cloud: :func:`run_add` below. The API may not import ``edge`` (import-linter),
  and the add is minutes of CPU work, so it runs ``python -m dancebooth reference add
  VIDEO --name NAME --options-json '<AddOptions>' --events`` as a child process and reads
  its stdout: one JSON :class:`AddEvent` a line (progress, then a result, a rejection or
  an error). The API runs it in a thread or a job and streams progress to the page.

Errors (all carry a message that says what to do next)::

    ReferenceDanceError            (common.reference: cannot find, read or save a dance)
     └── ReferenceAddError         the video cannot become a dance (not a video, too
         │                         long, name taken, disk full, ...); nothing was written
         └── ReferenceRejected     the quality check refused it: ``.report`` says why and
                                   what to do; ``options.force`` keeps it anyway

Nothing is half-written: the dance is built in a temporary directory beside its final
place and renamed into place at the end.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from common.reference import REFERENCE_DIR, ReferenceDanceError

AddProgress = Callable[[str, int, int], None]
"""``(stage, done, total)``; stages in order: ``probe``, ``pose`` (decode, pose and the
kept video, frame by frame), ``check`` (follow, repair, quality), ``audio`` (music and
beat), ``write`` (``total`` 0 when unknown)."""

# The joint groups the imputed share is reported for (COCO-17 and the foot extras).
JOINT_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    "torso": ("left_shoulder", "right_shoulder", "left_hip", "right_hip"),
    "arms": ("left_elbow", "right_elbow", "left_wrist", "right_wrist"),
    "legs": ("left_knee", "right_knee", "left_ankle", "right_ankle"),
    "feet": ("left_heel", "right_heel", "left_foot_index", "right_foot_index"),
}


class ReferenceAddError(ReferenceDanceError):
    """The video cannot become a reference dance; the message says why and what to do."""


class QualityThresholds(BaseModel):
    """Below these an add is refused (``force`` keeps it). Set from synthetic booth videos
    that should and should not pass: the table in ``reference_videos/README.md``, kept
    honest by ``tests/edge/test_reference_quality.py``."""

    model_config = ConfigDict(extra="forbid")

    min_dancer_found: float = Field(0.9, description="share of frames with the dancer")
    max_gap_s: float = Field(1.5, description="longest stretch without the dancer")
    max_imputed: float = Field(0.25, description="share of joints repaired, any group")
    max_dancer_changes: int = Field(0, description="times the followed dancer switched")
    max_multi_people: float = Field(
        0.2, description="share of frames with more than one person, without --person"
    )
    min_feet_visible: float = Field(0.8, description="share of frames with both ankles seen")
    min_motion: float = Field(
        0.05, description="mean joint speed, body heights per second (a dance moves)"
    )
    min_duration_s: float = Field(2.0, description="shortest dance")


class AddOptions(BaseModel):
    """How to build the dance: trimming, whom to follow, what to keep."""

    model_config = ConfigDict(extra="forbid")

    root: Path = Field(REFERENCE_DIR, description="directory holding the reference dances")
    title: str | None = None
    backend: Literal["blazepose", "replay"] = "blazepose"
    keypoints: Path | None = Field(None, description="replay: .npy [T,(P,)17|21,3] or a dance")
    start_s: float | None = Field(None, ge=0, description="trim: first second kept")
    end_s: float | None = Field(None, gt=0, description="trim: last second kept")
    person: int | Literal["largest", "central"] | None = Field(
        None, description="whom to follow: index in the first frame with several people"
    )
    mirror: bool = Field(False, description="also store <name>-mirror, left and right swapped")
    audio: bool = True
    keep_video: bool = Field(True, description="store video.mp4 (H.264, ≤ 720p)")
    force: bool = Field(False, description="keep the dance although the quality check refuses")
    replace: bool = Field(False, description="replace a dance of the same name")
    max_duration_s: float = Field(180.0, gt=0, description="longest video accepted (after trim)")
    max_fps: float = Field(30.0, gt=0, description="faster videos are resampled to this")
    max_height: int = Field(720, gt=0, description="taller videos are scaled down to this")
    thresholds: QualityThresholds = Field(default_factory=QualityThresholds)


class Problem(BaseModel):
    """One reason the quality check refused a dance, and what to do about it."""

    code: str  # e.g. "dancer_missing", "feet_cut_off"
    message: str
    advice: str


class QualityReport(BaseModel):
    """How good the dancer's keypoints are; stored as ``quality`` in ``dance.json``."""

    frames: int
    fps: float
    duration_s: float
    source_fps: float | None = None
    source_size: tuple[int, int] | None = None
    dancer_found: float = Field(description="share of frames with the dancer")
    frames_without_dancer: int
    longest_gap_s: float
    imputed: dict[str, float] = Field(description="share of joints repaired, per joint group")
    imputed_total: float
    people_max: int
    multi_people: float = Field(description="share of frames with more than one person")
    dancer_changes: int = Field(
        description="times the followed dancer switched to someone elsewhere in the frame"
    )
    feet_visible: float = Field(description="share of frames with both ankles seen")
    motion_energy: float = Field(description="mean joint speed, body heights per second")
    bpm: float | None = None
    first_beat_s: float | None = None
    notes: list[str] = Field(default_factory=list)  # resampling, trimming, person choice
    problems: list[Problem] = Field(default_factory=list)
    forced: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> bool:
        """No problems (a forced dance has problems and did not pass)."""
        return not self.problems

    def summary(self) -> str:
        """The report as the CLI prints it."""
        lines = [
            f"duration {self.duration_s:.1f} s, {self.frames} frames at {self.fps:g} fps",
            f"dancer found in {self.dancer_found:.0%} of frames "
            f"(longest gap {self.longest_gap_s:.1f} s)",
            "imputed: "
            + ", ".join(f"{g} {v:.0%}" for g, v in self.imputed.items())
            + f" (all {self.imputed_total:.0%})",
            f"people: up to {self.people_max}, several in {self.multi_people:.0%} of frames, "
            f"followed dancer switched {self.dancer_changes}x",
            f"feet visible in {self.feet_visible:.0%} of frames; "
            f"motion {self.motion_energy:.2f} heights/s",
        ]
        if self.bpm is not None:
            lines.append(f"tempo {self.bpm:.1f} bpm, first beat at {self.first_beat_s:.2f} s")
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"REFUSED: {p.message} — {p.advice}" for p in self.problems]
        if self.forced:
            lines.append("kept with --force despite the problems above")
        return "\n".join(lines)


class AddResult(BaseModel):
    name: str
    path: Path
    report: QualityReport
    video: Path | None = None  # the normalised video, if kept
    mirror: Path | None = None  # the mirrored copy's directory, if asked for


class ReferenceRejected(ReferenceAddError):  # noqa: N818 - the name the API was promised
    """The quality check refused the dance; ``report.problems`` say why and what to do."""

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        reasons = "; ".join(f"{p.message} ({p.advice})" for p in report.problems)
        super().__init__(f"refused: {reasons}; --force keeps it anyway")


class AddEvent(BaseModel):
    """One line of ``reference add --events`` output: what :func:`run_add` reads."""

    event: Literal["progress", "result", "rejected", "error"]
    stage: str | None = None
    done: int = 0
    total: int = 0
    result: AddResult | None = None
    report: QualityReport | None = None
    message: str | None = None


def run_add(
    video: Path,
    name: str,
    options: AddOptions,
    progress: AddProgress | None = None,
    *,
    python: str = sys.executable,
    timeout_s: float | None = None,
) -> AddResult:
    """:func:`edge.reference_add.add_reference` in a child process (for the cloud, which
    may not import ``edge``): same arguments, same result, same errors."""
    cmd = [python, "-m", "dancebooth", "reference", "add", str(video), "--name", name]
    cmd += ["--options-json", options.model_dump_json(), "--events"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        final: AddEvent | None = None
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            event = AddEvent.model_validate(json.loads(line))
            if event.event == "progress" and progress is not None:
                progress(event.stage or "", event.done, event.total)
            elif event.event != "progress":
                final = event
        try:
            stderr = proc.stderr.read()
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise ReferenceAddError(f"adding {name} took longer than {timeout_s} s") from None
    if final is None:
        tail = stderr.strip().splitlines()[-3:]
        raise ReferenceAddError(f"adding {name} failed (exit {proc.returncode}): {tail}")
    if final.event == "result" and final.result is not None:
        return final.result
    if final.event == "rejected" and final.report is not None:
        raise ReferenceRejected(final.report)
    raise ReferenceAddError(final.message or f"adding {name} failed")
