"""``dancebooth reference add VIDEO``: build a reference dance from a real video with
:func:`edge.reference_add.add_reference`; registered lazily in ``edge.reference_cli``.

``--events`` prints one JSON :class:`common.reference_add.AddEvent` a line instead of
the progress bar and the report: what :func:`common.reference_add.run_add` (the API's
way in) reads. Exit status: 0 kept, 3 refused by the quality check, 1 any other error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from common.reference_add import (
    AddEvent,
    AddOptions,
    AddProgress,
    AddResult,
    ReferenceAddError,
    ReferenceRejected,
)
from edge.reference_cli import root_option

REFUSED_EXIT = 3


def _person(raw: str | None) -> int | str | None:
    if raw is None or raw in ("largest", "central"):
        return raw
    if raw.isdigit():
        return int(raw)
    raise click.BadParameter("an index (0 = leftmost), largest or central", param_hint="--person")


@click.command("add")
@root_option
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Dance name (letters, digits, - and _); default: the file name.")
@click.option("--title", help="Human title; default: from the name.")
@click.option(
    "--backend",
    type=click.Choice(["blazepose", "replay"]),
    default="blazepose",
    show_default=True,
    help="Pose backend; replay reads --keypoints.",
)
@click.option(
    "--keypoints",
    "keypoints_path",
    type=click.Path(exists=True, path_type=Path),
    help="For replay: .npy [T,17|21,3] (or [T,P,17|21,3]: P people) or a dance directory.",
)
@click.option("--start", type=float, help="Seconds: keep the video from here.")
@click.option("--end", type=float, help="Seconds: keep the video up to here.")
@click.option(
    "--person",
    help="Whom to follow: index in the first frame with several people (0 = leftmost), "
    "largest or central.",
)
@click.option("--mirror", is_flag=True, help="Also store NAME-mirror, left and right swapped.")
@click.option("--no-audio", is_flag=True, help="Do not store the video's audio track.")
@click.option("--no-video", is_flag=True, help="Do not keep the normalised video.")
@click.option(
    "--max-duration",
    type=float,
    default=180.0,
    show_default=True,
    help="Longest video accepted, after trimming (seconds).",
)
@click.option("--force", is_flag=True, help="Keep the dance even if the quality check refuses.")
@click.option("--replace", is_flag=True, help="Replace a dance of the same name.")
@click.option("--options-json", help="All options as AddOptions JSON (overrides the flags).")
@click.option("--events", is_flag=True, help="Print JSON events, one a line (for the API).")
def add_cmd(
    root: Path,
    video: Path,
    name: str | None,
    title: str | None,
    backend: str,
    keypoints_path: Path | None,
    start: float | None,
    end: float | None,
    person: str | None,
    mirror: bool,
    no_audio: bool,
    no_video: bool,
    max_duration: float,
    force: bool,
    replace: bool,
    options_json: str | None,
    events: bool,
) -> None:
    """Build a reference dance from VIDEO: pose, follow the dancer, check, repair, keep."""
    from protocol.ids import check_id

    dance = _dance_name(name or video.stem, check_id)
    try:
        if options_json:
            options = AddOptions.model_validate_json(options_json)
        else:
            options = AddOptions(
                root=root,
                title=title,
                backend=backend,
                keypoints=keypoints_path,
                start_s=start,
                end_s=end,
                person=_person(person),
                mirror=mirror,
                audio=not no_audio,
                keep_video=not no_video,
                max_duration_s=max_duration,
                force=force,
                replace=replace,
            )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if events:
        _run_with_events(video, dance, options)
    else:
        _run_with_progress(video, dance, options)


def _run(video: Path, name: str, options: AddOptions, progress: AddProgress) -> AddResult:
    from edge.pose.base import PoseError
    from edge.reference_add import add_reference

    try:
        return add_reference(video, name, options, progress)
    except PoseError as exc:
        raise ReferenceAddError(str(exc)) from None


def _run_with_progress(video: Path, name: str, options: AddOptions) -> None:
    with Progress() as bar:
        tasks: dict[str, Any] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"{video.name}: {stage}", total=None)
            bar.update(tasks[stage], completed=done, total=total or None)

        try:
            result = _run(video, name, options, advance)
        except ReferenceRejected as exc:
            bar.stop()
            click.echo(exc.report.summary(), err=True)
            click.echo(f"Error: {name} was not added; --force keeps it anyway", err=True)
            raise SystemExit(REFUSED_EXIT) from None
        except ReferenceAddError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(result.report.summary())
    click.echo(f"wrote {result.path}; preview: dancebooth reference show {name} --video out.mp4")


def _run_with_events(video: Path, name: str, options: AddOptions) -> None:
    def emit(event: AddEvent) -> None:
        click.echo(event.model_dump_json(exclude_none=True))

    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        percent = 100 * done // total if total else done
        if last.get(stage) == percent and done != total:
            return  # one line per percent: a 3-minute video has 5,400 frames
        last[stage] = percent
        emit(AddEvent(event="progress", stage=stage, done=done, total=total))

    try:
        result = _run(video, name, options, progress)
    except ReferenceRejected as exc:
        emit(AddEvent(event="rejected", report=exc.report, message=str(exc)))
        raise SystemExit(REFUSED_EXIT) from None
    except ReferenceAddError as exc:
        emit(AddEvent(event="error", message=str(exc)))
        raise SystemExit(1) from None
    emit(AddEvent(event="result", result=result))


def _dance_name(raw: str, check: Callable[[str, str], str]) -> str:
    """A valid dance name from a file name: other characters become '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-_")[:64] or "dance"
    try:
        return check(cleaned, "dance name")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
