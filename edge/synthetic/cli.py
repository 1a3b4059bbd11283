"""``dancebooth synth ...``: the synthetic booth's corpus and contact sheets."""

from __future__ import annotations

from pathlib import Path

import click
import cv2
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from edge.synthetic.corpus import frames_planned, write_corpus


@click.group()
def synth() -> None:
    """The synthetic booth: rendered dancers with ground truth."""


@synth.command("corpus")
@click.option("--staff", default=8, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--visitors", default=2, show_default=True, type=click.IntRange(0, 10_000))
@click.option("--resolution", default=256, show_default=True, type=click.IntRange(128, 512))
@click.option("--fps", default=30.0, show_default=True, type=click.FloatRange(1, 120))
@click.option("--duration", default=15.0, show_default=True, type=click.FloatRange(0.1, 600))
@click.option(
    "--keypoints",
    type=click.Choice(["truth", "noisy"]),
    default="truth",
    show_default=True,
    help="FrameMeta.keypoints: truth or noisy (truth always kept).",
)
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path))
def corpus_cmd(
    staff: int,
    visitors: int,
    resolution: int,
    fps: float,
    duration: float,
    keypoints: str,
    out: Path,
) -> None:
    """Write staff dancers and held-out visitors as shards plus OUT/corpus.json."""
    if staff + visitors == 0:
        raise click.UsageError("ask for at least one --staff or --visitors")
    total = frames_planned(staff, visitors, fps, duration)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} frames"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress:
        task = progress.add_task("rendering", total=total)
        corpus = write_corpus(
            out,
            staff=staff,
            visitors=visitors,
            resolution=resolution,
            fps=fps,
            duration_s=duration,
            keypoints=keypoints,  # type: ignore[arg-type]
            progress=lambda n: progress.advance(task, n),
        )
    frames = sum(s.frames for s in corpus.sessions)
    click.echo(f"wrote {len(corpus.sessions)} sessions, {frames} frames to {out}/corpus.json")


@synth.command("contact-sheet")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--visitors", default=4, show_default=True, type=click.IntRange(0, 64))
@click.option("--staff", default=2, show_default=True, type=click.IntRange(0, 64))
@click.option("--cols", default=6, show_default=True, type=click.IntRange(1, 32))
@click.option("--resolution", default=192, show_default=True, type=click.IntRange(128, 512))
@click.option(
    "--overlay",
    type=click.Choice(["truth", "noisy", "none"]),
    default="truth",
    show_default=True,
    help="Skeleton drawn on each frame.",
)
@click.option("--seed", "start_seed", default=0, show_default=True, help="First dancer seed.")
@click.option(
    "--reference",
    "references",
    multiple=True,
    help="Also a row for this reference dance (name or directory; repeatable).",
)
def contact_sheet_cmd(
    out: Path,
    visitors: int,
    staff: int,
    cols: int,
    resolution: int,
    overlay: str,
    start_seed: int,
    references: tuple[str, ...],
) -> None:
    """Save a PNG grid of rendered frames with skeletons drawn (rows: dancers)."""
    from common.reference import ReferenceDanceError, load_reference
    from edge.synthetic.sheet import contact_sheet

    if visitors + staff + len(references) == 0:
        raise click.UsageError("ask for at least one --visitors, --staff or --reference row")
    try:
        dances = [load_reference(r) for r in references]
    except ReferenceDanceError as exc:
        raise click.ClickException(str(exc)) from None
    img = contact_sheet(
        visitors=visitors,
        staff=staff,
        cols=cols,
        resolution=resolution,
        overlay=overlay,  # type: ignore[arg-type]  # click.Choice checked it
        start_seed=start_seed,
        references=dances,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), img):
        raise click.ClickException(f"could not write {out} (use a .png name)")
    click.echo(f"wrote {out} ({img.shape[1]}x{img.shape[0]})")
