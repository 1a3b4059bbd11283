"""``dancebooth reference ...``: list, generate and check the reference dances.

``add VIDEO`` (build a dance from a real video with a pose backend) belongs to the
offline repair/smoothing work: it registers itself with one line in
:data:`REFERENCE_COMMANDS` and is imported only when run.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress

from common.lazy import LazyGroup
from common.reference import REFERENCE_DIR, ReferenceDanceError, list_references, load_reference

root_option = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=REFERENCE_DIR,
    show_default=True,
    help="Directory holding the reference dances.",
)


# Subcommands living in other modules: name -> ("module:attr", "one-line help").
REFERENCE_COMMANDS: dict[str, tuple[str, str]] = {
    "add": ("edge.reference_add_cli:add_cmd", "Build a reference dance from a video file."),
}


@click.group(cls=LazyGroup, lazy=REFERENCE_COMMANDS)
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
    click.echo(
        f"{'name':16s} {'title':18s} {'bpm':>5s} {'fps':>5s} {'frames':>6s} "
        f"{'seconds':>7s} {'size':>9s}  {'check':6s} music"
    )
    for d in dances:
        bpm = f"{d.bpm:g}" if d.bpm else "-"
        music = d.audio.name if d.audio else "-"
        check = "-" if d.quality is None else "forced" if d.quality.get("forced") else "ok"
        click.echo(
            f"{d.name:16s} {d.title[:18]:18s} {bpm:>5s} {d.fps:5g} {d.frames:6d} "
            f"{d.duration_s:7.1f} {d.width:4d}x{d.height:<4d}  {check:6s} {music}"
        )


@reference.command("generate")
@root_option
@click.option("--name", "names", multiple=True, help="Only this routine (repeatable).")
@click.option(
    "--size",
    default=512,
    show_default=True,
    type=click.IntRange(64, 4096),
    help="Frame size (square) the keypoints are given in.",
)
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
@click.option(
    "--video",
    "video_out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a preview MP4: the skeleton over the dance's video, repaired joints in red.",
)
def show_cmd(root: Path, name: str, video_out: Path | None) -> None:
    """Check a dance's files and print its metadata and quality report (use after
    hand-editing the CSV); --video renders the preview."""
    try:
        d = load_reference(name, root)
    except ReferenceDanceError as exc:
        raise click.ClickException(str(exc)) from None
    seen = float((d.keypoints[..., 2] > 0).mean())
    click.echo(
        f"{d.name}: {d.title}, {d.frames} frames at {d.fps:g} fps ({d.duration_s:.1f} s), "
        f"{d.width}x{d.height}, bpm {d.bpm}, music {d.audio}, video {d.video}, "
        f"{seen:.0%} joints visible, source: {d.source}"
    )
    if d.quality is not None:
        from common.reference_add import QualityReport

        click.echo(QualityReport.model_validate(d.quality).summary())
    if video_out is not None:
        from edge.reference_preview import render_preview

        with Progress() as progress:
            task = progress.add_task("preview", total=d.frames)
            render_preview(d, video_out, lambda done, _: progress.update(task, completed=done))
        click.echo(f"wrote {video_out}")
