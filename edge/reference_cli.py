"""``dancebooth reference ...``: list and generate the reference dances.

``add VIDEO`` builds a dance from a real video with a pose backend
(:mod:`edge.reference_builder`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import click
from rich.progress import Progress

from edge.reference import REFERENCE_DIR, ReferenceDanceError, list_references, load_reference

root_option = click.option(
    "--root", type=click.Path(file_okay=False, path_type=Path), default=REFERENCE_DIR,
    show_default=True, help="Directory holding the reference dances.",
)  # fmt: skip


@click.group()
def reference() -> None:
    """The reference dances visitors are rendered performing."""


@reference.command("list")
@root_option
def list_cmd(root: Path) -> None:
    """List the reference dances with tempo, length and music."""
    try:
        dances = list_references(root)
    except ReferenceDanceError as exc:
        raise click.ClickException(str(exc)) from None
    if not dances:
        click.echo(f"no reference dances in {root}; run: dancebooth reference generate")
        return
    click.echo(f"{'name':16s} {'title':18s} {'bpm':>5s} {'fps':>5s} {'frames':>6s} "
               f"{'seconds':>7s} {'size':>9s}  music")  # fmt: skip
    for d in dances:
        bpm = f"{d.bpm:g}" if d.bpm else "-"
        music = d.audio.name if d.audio else "-"
        click.echo(f"{d.name:16s} {d.title[:18]:18s} {bpm:>5s} {d.fps:5g} {d.frames:6d} "
                   f"{d.duration_s:7.1f} {d.width:4d}x{d.height:<4d}  {music}")  # fmt: skip


@reference.command("generate")
@root_option
@click.option("--name", "names", multiple=True, help="Only this routine (repeatable).")
@click.option("--size", default=512, show_default=True, type=click.IntRange(64, 4096),
              help="Frame size (square) the keypoints are given in.")  # fmt: skip
@click.option("--fps", default=30.0, show_default=True, type=click.FloatRange(1, 120))
def generate_cmd(root: Path, names: tuple[str, ...], size: int, fps: float) -> None:
    """Generate the shipped synthetic reference dances (keypoints + music)."""
    from edge.synthetic.routines import ROUTINES, generate_all

    chosen = list(names) or list(ROUTINES)
    unknown = [n for n in chosen if n not in ROUTINES]
    if unknown:
        raise click.ClickException(f"unknown routine(s) {unknown}; known: {sorted(ROUTINES)}")
    with Progress() as progress:
        task = progress.add_task("generating", total=len(chosen))
        for name in chosen:
            (path,) = generate_all(root, [name], width=size, height=size, fps=fps)
            progress.advance(task)
            progress.console.print(f"wrote {path}")


@reference.command("show")
@root_option
@click.argument("name")
def show_cmd(root: Path, name: str) -> None:
    """Check a dance's files and print its metadata (use after hand-editing the CSV)."""
    try:
        d = load_reference(name, root)
    except ReferenceDanceError as exc:
        raise click.ClickException(str(exc)) from None
    seen = float((d.keypoints[..., 2] > 0).mean())
    click.echo(f"{d.name}: {d.title}, {d.frames} frames at {d.fps:g} fps ({d.duration_s:.1f} s), "
               f"{d.width}x{d.height}, bpm {d.bpm}, music {d.audio}, {seen:.0%} joints visible, "
               f"source: {d.source}")  # fmt: skip


@reference.command("add")
@root_option
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Dance name (letters, digits, - and _); default: the file name.")
@click.option("--title", help="Human title; default: from the name.")
@click.option("--backend", type=click.Choice(["blazepose", "replay"]), default="blazepose",
              show_default=True, help="Pose backend; replay reads --keypoints.")  # fmt: skip
@click.option("--keypoints", "keypoints_path", type=click.Path(exists=True, path_type=Path),
              help="For replay: .npy [T,17|21,3] or a reference dance directory.")  # fmt: skip
@click.option("--no-audio", is_flag=True, help="Do not store the video's audio track.")
@click.option("--force", is_flag=True, help="Replace a dance of the same name.")
def add_cmd(
    root: Path, video: Path, name: str | None, title: str | None, backend: str,
    keypoints_path: Path | None, no_audio: bool, force: bool,
) -> None:  # fmt: skip
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
                video, dance, estimator, backend, root=root, title=title, keypoints=truth,
                audio=not no_audio, progress=advance,
            )  # fmt: skip
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
