"""``dancebooth reference add VIDEO``: build a reference dance from a real video (see
:mod:`edge.reference_builder`); registered lazily in ``edge.reference_cli``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click
from rich.progress import Progress

from common.reference import ReferenceDanceError
from edge.reference_cli import root_option


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
    help="For replay: .npy [T,17|21,3] or a reference dance directory.",
)
@click.option("--no-audio", is_flag=True, help="Do not store the video's audio track.")
@click.option("--force", is_flag=True, help="Replace a dance of the same name.")
def add_cmd(
    root: Path,
    video: Path,
    name: str | None,
    title: str | None,
    backend: str,
    keypoints_path: Path | None,
    no_audio: bool,
    force: bool,
) -> None:
    """Build a reference dance from VIDEO: pose, follow the dancer, repair + smooth, music."""
    from edge.pose import create_estimator
    from edge.pose.base import PoseError
    from edge.reference_builder import ReferenceBuildError, build_reference, load_keypoints_file
    from edge.settings import BlazePoseSettings, ReplaySettings
    from protocol.ids import check_id

    dance = _dance_name(name or video.stem, check_id)
    if (root / dance / "dance.json").exists() and not force:
        raise click.ClickException(f"{root / dance} exists; pick another --name or pass --force")
    if (backend == "replay") != (keypoints_path is not None):
        raise click.UsageError("--keypoints goes with --backend replay (and only with it)")
    try:
        truth = load_keypoints_file(keypoints_path) if keypoints_path else None
        settings = ReplaySettings(noise=False) if backend == "replay" else BlazePoseSettings()
        with create_estimator(settings) as estimator, Progress() as progress:
            task = progress.add_task(f"{video.name}: pose", total=None)

            def advance(done: int, expected: int) -> None:
                progress.update(task, completed=done, total=expected or None)

            path = build_reference(
                video,
                dance,
                estimator,
                backend,
                root=root,
                title=title,
                keypoints=truth,
                audio=not no_audio,
                progress=advance,
            )
    except (ReferenceBuildError, PoseError, ReferenceDanceError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {path}; check it with: dancebooth reference show {path}")


def _dance_name(raw: str, check: Callable[[str, str], str]) -> str:
    """A valid dance name from a file name: other characters become '-'."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", raw).strip("-_")[:64] or "dance"
    try:
        return check(cleaned, "dance name")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
