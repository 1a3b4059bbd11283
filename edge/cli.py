"""``dancebooth edge ...``: commands that run on a booth node."""

from __future__ import annotations

from pathlib import Path

import click

from edge.settings import EdgeSettings
from protocol.settings import ConfigError, load_settings

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
    envvar="DANCEBOOTH_EDGE_CONFIG", help="YAML settings file (env: DANCEBOOTH_EDGE_CONFIG).",
)  # fmt: skip


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
@click.option("--model-dir", type=click.Path(path_type=Path), default=None,
              help="Where to cache the models (default: $DANCEBOOTH_MODEL_DIR or "
                   "~/.cache/dancebooth/models).")  # fmt: skip
@click.option("--wheel", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Use this local mediapipe wheel (no download).")  # fmt: skip
def fetch_models_cmd(model_dir: Path | None, wheel: Path | None) -> None:
    """Obtain the BlazePose models from the mediapipe wheel, verify sha256, cache them."""
    from edge.pose.base import PoseError
    from edge.pose.models import fetch_models

    try:
        results = fetch_models(model_dir, wheel=wheel)
    except PoseError as exc:
        raise click.ClickException(str(exc)) from None
    for r in results:
        click.echo(f"{r.action:9s} {r.path}  sha256 {r.entry.sha256[:12]}…  ({r.entry.licence})")
