"""``dancebooth render``: a visitor performing a reference dance, as an MP4.

Two forms. With a SESSION, the visitor's clip comes from the database + object store
named in the cloud settings and the rendition is stored back under the session;
without one, ``--visitor-keypoints`` (``.npy``) and ``--capture-size`` give the clip.
The dance is ``--dance NAME`` from ``reference_videos/``, or ``--reference-keypoints``
with ``--fps`` (and ``--music``). The generator is a fine-tuned ``--checkpoint``, or
the model-free ``--generator painter``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cloud.cli import build_settings, config_option
from cloud.render.errors import RenderError
from cloud.render.generator import Generator, PosePainter
from cloud.render.inputs import (
    Dance,
    InputError,
    VisitorClip,
    clip_from_file,
    clip_from_store,
    dance_by_name,
    dance_from_file,
    rendition_key,
)
from cloud.render.normalize import normalize_dance
from cloud.render.quality import QualityGate
from cloud.render.renderer import RenderResult, render
from cloud.render.sheet import write_contact_sheet
from cloud.render.video import RenditionTags
from cloud.settings import CloudSettings, RenderSettings
from cloud.training.framing import Framing

_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_out = click.Path(dir_okay=False, path_type=Path)


def _size(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not WIDTHxHEIGHT", param_hint="--capture-size"
        ) from None
    return w, h


def _generator(checkpoint: Path | None, name: str, resolution: int, device: str) -> Generator:
    if checkpoint is not None:
        from cloud.render.torch_generator import TorchGenerator  # torch only when needed

        return TorchGenerator.from_checkpoint(checkpoint, device=device)
    return PosePainter(resolution, temporal=name == "painter-temporal")


def _clip(
    settings: CloudSettings,
    session: str | None,
    node: str | None,
    kps: Path | None,
    size: str | None,
) -> VisitorClip:
    if session is not None:
        from cloud.db.engine import make_engine, session_factory
        from cloud.storage import create_storage

        engine = make_engine(settings.database.url)
        try:
            return clip_from_store(
                create_storage(settings.storage), session_factory(engine), session, node
            )
        finally:
            engine.dispose()
    wh = _size(size)
    if kps is None or wh is None:
        raise click.UsageError("give a SESSION, or --visitor-keypoints with --capture-size")
    return clip_from_file(kps, *wh)


def _dance(name: str | None, kps: Path | None, fps: float | None, music: Path | None) -> Dance:
    if name is not None and kps is None:
        return dance_by_name(name)
    if kps is None or fps is None:
        raise click.UsageError("give --dance NAME, or --reference-keypoints with --fps")
    return dance_from_file(kps, fps, music, name or "")


@click.command("render")
@click.argument("session", required=False)
@config_option
@click.option("--dance", "dance_name", help="Reference dance by name (reference_videos/).")
@click.option("--node", help="Which node's clip of the session (default: the longest).")
@click.option("--visitor-keypoints", type=_file, help="Visitor clip as [T,17,3] .npy.")
@click.option("--capture-size", help="The visitor clip's frame size, e.g. 640x480.")
@click.option("--reference-keypoints", type=_file, help="A dance as [T,17,3] .npy.")
@click.option("--fps", type=float, help="Frame rate of --reference-keypoints.")
@click.option("--music", type=_file, help="Music of --reference-keypoints (any audio format).")
@click.option("--checkpoint", type=_file, help="The visitor's fine-tuned generator.")
@click.option(
    "--generator",
    "generator_name",
    default="painter",
    show_default=True,
    type=click.Choice(["painter", "painter-temporal"]),
    help="Model-free one, if no checkpoint.",
)
@click.option("--resolution", type=click.Choice(["128", "256", "512"]), default="128")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N")
@click.option("--out", type=_out, help="Write the MP4 here (with a SESSION: also stored).")
@click.option("--sheet", type=_out, help="Also write a contact sheet (PNG) of 8 frames.")
@click.option("--held-out-ssim", type=float, help="Apply the quality gate (default: checkpoint's).")
def render_command(
    session: str | None,
    config_path: Path | None,
    dance_name: str | None,
    node: str | None,
    visitor_keypoints: Path | None,
    capture_size: str | None,
    reference_keypoints: Path | None,
    fps: float | None,
    music: Path | None,
    checkpoint: Path | None,
    generator_name: str,
    resolution: str,
    device: str,
    out: Path | None,
    sheet: Path | None,
    held_out_ssim: float | None,
) -> None:
    """Render the reference dance performed with the visitor's body and framing."""
    settings = build_settings(config_path)
    if session is None and out is None:
        raise click.UsageError("give --out (where to write the MP4) when rendering from files")
    try:
        clip = _clip(settings, session, node, visitor_keypoints, capture_size)
        dance = _dance(dance_name, reference_keypoints, fps, music)
        generator = _generator(checkpoint, generator_name, int(resolution), device)
        mapped, _, fit = normalize_dance(
            dance.keypoints, clip.keypoints, min_range=settings.render.min_range
        )
        kps = Framing.around(clip.keypoints, clip.width, clip.height).to_pixels(
            mapped, generator.resolution
        )
    except (InputError, RenderError, ValueError) as exc:
        raise click.ClickException(f"cannot render: {exc}") from None
    if fit.target.collapsed:
        click.echo("visitor stayed on one spot: one size and floor line used (see normalize.py)")
    tags = RenditionTags(session or "local", generator.model_version, dance.name)
    with tempfile.TemporaryDirectory() as tmp:
        path = out or Path(tmp) / "rendition.mp4"
        try:
            result = _render_with_bar(generator, kps, path, dance, tags, settings.render)
        except RenderError as exc:
            raise click.ClickException(str(exc)) from None
        _report(result, settings, session, dance, sheet)
    ssim = held_out_ssim if held_out_ssim is not None else getattr(generator, "held_out_ssim", None)
    if ssim is not None or checkpoint is not None:
        q = settings.render.quality
        decision = QualityGate(q.min_held_out_ssim, q.max_flicker).decide(ssim, result.flicker)
        click.echo(f"quality gate: {decision.status} {'; '.join(decision.reasons)}".rstrip())


def _report(
    result: RenderResult,
    settings: CloudSettings,
    session: str | None,
    dance: Dance,
    sheet: Path | None,
) -> None:
    click.echo(
        f"{result.path}: {result.frames} frames in {result.seconds:.1f} s "
        f"({result.fps:.1f} fps), flicker {result.flicker.flicker:.2f}"
    )
    if session is not None:
        from cloud.storage import create_storage

        key = rendition_key(session, dance.name)
        create_storage(settings.storage).put(key, result.path.read_bytes(), "video/mp4")
        click.echo(f"stored as {key}")
    if sheet is not None:
        click.echo(f"contact sheet: {write_contact_sheet(result.path, sheet)}")


def _render_with_bar(
    generator: Generator,
    kps: np.ndarray,
    out: Path,
    dance: Dance,
    tags: RenditionTags,
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
            generator,
            kps,
            out,
            fps=dance.fps,
            tags=tags,
            music=dance.music,
            batch_size=settings.batch_size,
            crf=settings.crf,
            preset=settings.preset,
            progress=lambda done, total: bar.update(task, completed=done),
        )
