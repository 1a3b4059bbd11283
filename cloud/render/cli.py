"""``dancebooth render``: a visitor performing a reference dance, as an MP4."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np
import numpy.typing as npt
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cloud.cli import build_settings, config_option
from cloud.render.errors import RenderError
from cloud.render.generator import Generator, PosePainter
from cloud.render.normalize import NormalizationError, normalize_dance
from cloud.render.quality import QualityGate
from cloud.render.renderer import Framing, RenderResult, render
from cloud.render.sheet import write_contact_sheet
from cloud.render.video import RenditionTags
from cloud.settings import RenderSettings

_path = click.Path(exists=True, dir_okay=False, path_type=Path)


def _load_keypoints(path: Path, what: str) -> npt.NDArray[np.float32]:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path} is not a .npy array: {exc}", param_hint=what) from None
    if arr.ndim != 3 or arr.shape[1:] != (17, 3):
        raise click.BadParameter(f"{path} holds {arr.shape}, need [T, 17, 3]", param_hint=what)
    return np.asarray(arr, dtype=np.float32)


def _generator(name: str, resolution: int) -> Generator:
    if name == "painter":
        return PosePainter(resolution)
    if name == "painter-temporal":
        return PosePainter(resolution, temporal=True)
    raise click.BadParameter(f"unknown generator {name!r}", param_hint="--generator")


@click.command("render")
@config_option
@click.option("--visitor-keypoints", type=_path, required=True, help="Visitor clip, [T,17,3] .npy.")
@click.option("--reference-keypoints", type=_path, required=True, help="Dance, [T,17,3] .npy.")
@click.option("--fps", type=float, required=True, help="The reference dance's frame rate.")
@click.option("--music", type=_path, default=None, help="The dance's music (any audio format).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--session", "session_id", default="local", help="Session id written in the tags.")
@click.option("--dance", default="", help="Dance name written in the tags.")
@click.option(
    "--generator", "generator_name", default="painter", show_default=True,
    type=click.Choice(["painter", "painter-temporal"]), help="Which generator draws.",
)  # fmt: skip
@click.option("--resolution", type=click.Choice(["128", "256", "512"]), default="128")
@click.option("--held-out-ssim", type=float, default=None, help="Apply the quality gate too.")
@click.option(
    "--sheet", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write a contact sheet (PNG) of 8 frames of the rendition.",
)  # fmt: skip
def render_command(
    config_path: Path | None,
    visitor_keypoints: Path,
    reference_keypoints: Path,
    fps: float,
    music: Path | None,
    out: Path,
    session_id: str,
    dance: str,
    generator_name: str,
    resolution: str,
    held_out_ssim: float | None,
    sheet: Path | None,
) -> None:
    """Render the reference dance performed with the visitor's body and framing."""
    settings = build_settings(config_path).render
    visitor = _load_keypoints(visitor_keypoints, "--visitor-keypoints")
    reference = _load_keypoints(reference_keypoints, "--reference-keypoints")
    generator = _generator(generator_name, int(resolution))
    try:
        mapped, _, fit = normalize_dance(reference, visitor, min_range=settings.min_range)
        kps = Framing.around(visitor).to_generator(mapped, generator.resolution)
    except (NormalizationError, ValueError) as exc:
        raise click.ClickException(f"cannot map the dance onto the visitor: {exc}") from None
    if fit.target.collapsed:
        click.echo("visitor stayed on one spot: one size and floor line used (see normalize.py)")
    tags = RenditionTags(session_id, generator.model_version, dance)
    try:
        result = _render_with_bar(generator, kps, out, fps, tags, music, settings)
    except RenderError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{result.path}: {result.frames} frames in {result.seconds:.1f} s "
        f"({result.fps:.1f} fps), flicker {result.flicker.flicker:.2f}"
    )
    if sheet is not None:
        click.echo(f"contact sheet: {write_contact_sheet(result.path, sheet)}")
    if held_out_ssim is not None:
        q = settings.quality
        decision = QualityGate(q.min_held_out_ssim, q.max_flicker).decide(
            held_out_ssim, result.flicker
        )
        click.echo(f"quality gate: {decision.status} {'; '.join(decision.reasons)}".rstrip())


def _render_with_bar(
    generator: Generator,
    kps: npt.NDArray[np.float32],
    out: Path,
    fps: float,
    tags: RenditionTags,
    music: Path | None,
    settings: RenderSettings,
) -> RenderResult:
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("rendering", total=len(kps))
        return render(
            generator, kps, out, fps=fps, tags=tags, music=music,
            batch_size=settings.batch_size, crf=settings.crf, preset=settings.preset,
            progress=lambda done, total: bar.update(task, completed=done),
        )  # fmt: skip
