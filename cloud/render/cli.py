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
from typing import cast

import click
import cv2
import numpy as np
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cloud.cli import build_settings, config_option
from cloud.db.booths import BoothLook
from cloud.render.credentials import RenditionFacts
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
from cloud.render.layout import LAYOUTS, Layout
from cloud.render.quality import QualityGate
from cloud.render.rendition import Rendition, make_rendition
from cloud.render.sheet import write_contact_sheet
from cloud.render.video import RenditionTags
from cloud.settings import CloudSettings, RenderSettings

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
    return PosePainter(
        resolution, temporal=name == "painter-temporal", dancer_only=name == "painter-alpha"
    )


def _plate(path: Path | None) -> np.ndarray | None:
    if path is None:
        return None
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise click.BadParameter(f"{path} is not an image OpenCV can read", param_hint="--plate")
    return np.asarray(img, np.uint8)


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


def _session_plate(settings: CloudSettings, session: str, node: str) -> np.ndarray | None:
    """The clean plate the session's node uploaded, if it did."""
    from cloud.db.engine import make_engine, session_factory
    from cloud.render.inputs import plate_from_store
    from cloud.storage import create_storage

    engine = make_engine(settings.database.url)
    try:
        storage = create_storage(settings.storage)
        return plate_from_store(storage, session_factory(engine), session, node or None)
    finally:
        engine.dispose()


def _booth(settings: CloudSettings, session: str | None) -> BoothLook:
    """The booth's name and layout: from the database for a SESSION, else the defaults."""
    if session is None:
        return BoothLook(settings.booth, "", "solo")
    from cloud.db.booths import session_booth_look
    from cloud.db.engine import make_engine, session_factory

    engine = make_engine(settings.database.url)
    try:
        with session_factory(engine)() as db:
            look = session_booth_look(db, session)
    finally:
        engine.dispose()
    return look or BoothLook(settings.booth, "", "solo")


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
    type=click.Choice(["painter", "painter-temporal", "painter-alpha"]),
    help="Model-free one, if no checkpoint (painter-alpha: dancer only, over the plate).",
)
@click.option(
    "--layout",
    type=click.Choice(LAYOUTS),
    help="solo, or side-by-side with the reference (default: the booth's, else solo).",
)
@click.option(
    "--plate",
    type=_file,
    help="The clean plate, an image at the camera's size (default with a SESSION: its node's).",
)
@click.option("--booth-name", help="Name on the intro card (default: the booth's).")
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
    layout: Layout | None,
    plate: Path | None,
    booth_name: str | None,
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
        image = _plate(plate)
        if image is None and session is not None:
            image = _session_plate(settings, session, clip.node)
    except (InputError, RenderError, ValueError) as exc:
        raise click.ClickException(f"cannot render: {exc}") from None
    booth = _booth(settings, session)
    tags = RenditionTags(session or "local", generator.model_version, dance.name)
    with tempfile.TemporaryDirectory() as tmp:
        path = out or Path(tmp) / "rendition.mp4"
        try:
            rendition = _render_with_bar(
                generator,
                clip,
                dance,
                path,
                tags,
                settings.render,
                image,
                layout or cast(Layout, booth.layout),
                booth_name if booth_name is not None else booth.title,
            )
        except (RenderError, ValueError) as exc:
            raise click.ClickException(f"cannot render: {exc}") from None
        _sign(
            path,
            settings,
            RenditionFacts(settings.booth, tags.session_id, tags.model_version, dance.name),
        )
        _report(rendition, settings, session, dance, sheet)
    result = rendition.result
    ssim = held_out_ssim if held_out_ssim is not None else getattr(generator, "held_out_ssim", None)
    if ssim is not None or checkpoint is not None:
        q = settings.render.quality
        decision = QualityGate(q.min_held_out_ssim, q.max_flicker).decide(ssim, result.flicker)
        click.echo(f"quality gate: {decision.status} {'; '.join(decision.reasons)}".rstrip())


def _sign(path: Path, settings: CloudSettings, facts: RenditionFacts) -> None:
    """Sign the MP4 as the pipeline does (before it is stored or reported)."""
    from cloud.render.credentials import CredentialsError, sign_in_place, signing_identity

    try:
        identity = signing_identity(settings)
        if identity is None:
            click.echo("content credentials: unsigned (credentials.allow_unsigned)")
            return
        sign_in_place(path, identity, facts)
    except CredentialsError as exc:
        raise click.ClickException(f"cannot sign the rendition: {exc}") from None
    click.echo(f"content credentials: signed by {identity.subject}")


def _report(
    rendition: Rendition,
    settings: CloudSettings,
    session: str | None,
    dance: Dance,
    sheet: Path | None,
) -> None:
    result = rendition.result
    click.echo(
        f"{result.path}: {result.frames} frames at {result.width}x{result.height} "
        f"({rendition.layout}, over the {rendition.backdrop}) in {result.seconds:.1f} s "
        f"({result.fps:.1f} fps), flicker {result.flicker.flicker:.2f}"
    )
    for note in rendition.notes:
        click.echo(f"  note: {note}")
    if session is not None:
        from cloud.storage import create_storage

        key = rendition_key(session, dance.name)
        create_storage(settings.storage).put(key, result.path.read_bytes(), "video/mp4")
        click.echo(f"stored as {key}")
    if sheet is not None:
        click.echo(f"contact sheet: {write_contact_sheet(result.path, sheet)}")


def _render_with_bar(
    generator: Generator,
    clip: VisitorClip,
    dance: Dance,
    out: Path,
    tags: RenditionTags,
    settings: RenderSettings,
    plate: np.ndarray | None,
    layout: Layout,
    booth_name: str,
) -> Rendition:
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("rendering", total=len(dance.keypoints))
        return make_rendition(
            generator,
            clip,
            dance,
            out,
            tags=tags,
            settings=settings,
            plate=plate,
            layout=layout,
            booth_name=booth_name,
            progress=lambda done, total: bar.update(task, completed=done),
        )
