"""``dancebooth edge ...``: commands that run on a booth node."""

from __future__ import annotations

from pathlib import Path

import click

from edge.pose_frames import pose_frames
from edge.settings import EdgeSettings
from protocol.settings import ConfigError, load_settings

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    envvar="DANCEBOOTH_EDGE_CONFIG",
    help="YAML settings file (env: DANCEBOOTH_EDGE_CONFIG).",
)


def build_settings(config_path: Path | None) -> EdgeSettings:
    try:
        return load_settings(EdgeSettings, config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def edge() -> None:
    """Run and set up a booth node."""


@edge.command("check-config")
@config_option
def check_config(config_path: Path | None) -> None:
    """Validate the node's settings and print them resolved (secrets hidden)."""
    settings = build_settings(config_path)
    click.echo(settings.model_dump_json(indent=2))


@edge.command("fetch-models")
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to cache the models (default: $DANCEBOOTH_MODEL_DIR or "
    "~/.cache/dancebooth/models).",
)
@click.option(
    "--wheel",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Use this local mediapipe wheel (no download).",
)
@click.option(
    "--coral",
    is_flag=True,
    help="Coral's PoseNet and MoveNet files (CPU and Edge TPU) and this CPU's "
    "posenet_decoder.so instead, from Coral's repositories at a pinned commit.",
)
@click.option(
    "--from",
    "source_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="With --coral: copy the files from this folder (a model cache, or checkouts of "
    "Coral's project-posenet / test_data) instead of downloading them.",
)
@click.option(
    "--arch",
    default=None,
    help="With --coral: the CPU whose posenet_decoder.so to fetch (x86_64, aarch64, "
    "armv7a; default: this machine's).",
)
def fetch_models_cmd(
    model_dir: Path | None,
    wheel: Path | None,
    coral: bool,
    source_dir: Path | None,
    arch: str | None,
) -> None:
    """Obtain the pose models, verify their pinned sha256, cache them.

    Without --coral: the BlazePose models, from the mediapipe wheel.
    """
    from rich.console import Console

    from edge.pose.base import PoseError
    from edge.pose.coral import machine_arch
    from edge.pose.models import fetch_models

    if (source_dir or arch) and not coral:
        raise click.UsageError("--from and --arch go with --coral")
    what = "Coral's models" if coral else "the pose models (pip caches the wheel)"
    try:
        with Console(stderr=True).status(f"getting {what}…"):
            if coral:
                results = fetch_models(
                    model_dir, group="coral", arch=machine_arch(arch), source_dir=source_dir
                )
            else:
                results = fetch_models(model_dir, wheel=wheel)
    except PoseError as exc:
        raise click.ClickException(str(exc)) from None
    for r in results:
        click.echo(f"{r.action:10s} {r.path}  sha256 {r.entry.sha256[:12]}…  ({r.entry.licence})")


edge.add_command(pose_frames)


@edge.command("check-tpu")
@config_option
def check_tpu(config_path: Path | None) -> None:
    """Try the node's Edge TPU the way the node does at start-up, in a child process:
    load the runtime and the model, run one inference, say what happened."""
    from edge.pose.base import PoseError
    from edge.pose.edgetpu import resolved
    from edge.pose.probe import TpuSettings, probe

    settings = build_settings(config_path)
    pose = settings.pose
    if not isinstance(pose, TpuSettings) or pose.device != "edgetpu":
        raise click.ClickException(
            f"pose backend {pose.type!r} does not use an Edge TPU: set pose.type to movenet or "
            "posenet and pose.device to edgetpu"
        )
    frame = (settings.capture.width, settings.capture.height)
    try:
        pose = resolved(pose, frame)
    except PoseError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"probing {pose.type} with {pose.model_path} for {frame[0]}x{frame[1]} frames…")
    timeout = pose.edgetpu.probe_timeout_s or 30.0
    result = probe(pose, frame, timeout_s=timeout)
    if not result.ok:
        raise click.ClickException(f"Edge TPU unusable: {result.reason}")
    click.echo(
        f"Edge TPU OK: {result.runtime}, first inference (model upload included) "
        f"{result.invoke_ms:.0f} ms"
    )


@edge.command("pose-sheet")
@config_option
@click.argument("images", nargs=-1, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option(
    "--samples",
    is_flag=True,
    help="Add the built-in photos (astronaut, Grace "
    "Hopper, both side by side, the swaying astronaut).",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("pose-sheet.png"),
    show_default=True,
)
def pose_sheet(
    config_path: Path | None, images: tuple[Path, ...], samples: bool, out: Path
) -> None:
    """Draw what the node's pose backend finds in IMAGES (and/or --samples) on one PNG."""
    import cv2
    import numpy as np

    from edge.pose import create_estimator
    from edge.pose import samples as sample_photos
    from edge.pose.base import PoseError
    from edge.pose.sheet import contact_sheet, look
    from edge.settings import BlazePoseSettings

    settings = build_settings(config_path)
    # The replay backend needs keypoints from its source; for pictures use BlazePose.
    pose = BlazePoseSettings() if settings.pose.type == "replay" else settings.pose
    try:
        read = [(p.name, cv2.imread(str(p), cv2.IMREAD_COLOR)) for p in images]
        bad = [name for name, img in read if img is None]
        if bad:
            raise click.ClickException(f"not readable as images: {', '.join(bad)}")
        inputs = [(name, np.asarray(img, dtype=np.uint8)) for name, img in read]
        if samples or not images:
            sway = sample_photos.swaying(46)
            inputs += [
                ("astronaut", sample_photos.astronaut()),
                ("grace_hopper", sample_photos.grace_hopper()),
                ("side by side", sample_photos.side_by_side()[0]),
                ("swaying #0", sway[0]),
                ("swaying #45", sway[45]),
            ]
        with create_estimator(pose) as estimator:
            tiles = [look(estimator, name, img) for name, img in inputs]
    except PoseError as exc:
        raise click.ClickException(str(exc)) from None
    if not cv2.imwrite(str(out), contact_sheet(tiles)):
        raise click.ClickException(f"cannot write {out}")
    for t in tiles:
        click.echo(f"{t.label}: {len(t.people)} people")
    click.echo(f"wrote {out}")


@edge.command("run")
@config_option
@click.option(
    "--capture",
    "capture_s",
    type=click.FloatRange(0, 120, min_open=True),
    default=None,
    help="Standalone: capture this many seconds now, send, exit.",
)
@click.option("--session", default=None, help="Session id of a standalone capture.")
@click.option("--drain", is_flag=True, help="Send what the spool holds, then exit.")
def run(
    config_path: Path | None, capture_s: float | None, session: str | None, drain: bool
) -> None:
    """Run the node: serve the booth's capture commands until stopped (Ctrl-C / SIGTERM)."""
    from edge.runner import run_node

    settings = build_settings(config_path)
    run_node(settings, capture_s=capture_s, session=session, drain=drain)
