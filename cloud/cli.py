"""``dancebooth cloud ...``: the cloud services."""

from __future__ import annotations

from pathlib import Path

import click

from cloud.settings import CloudSettings
from protocol.settings import ConfigError, load_settings

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(path_type=Path), default=None,
    envvar="DANCEBOOTH_CLOUD_CONFIG", help="YAML settings file (env: DANCEBOOTH_CLOUD_CONFIG).",
)  # fmt: skip


def build_settings(config_path: Path | None) -> CloudSettings:
    try:
        return load_settings(CloudSettings, config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def cloud() -> None:
    """Run the cloud services."""


@cloud.command("check-config")
@config_option
def check_config(config_path: Path | None) -> None:
    """Validate the cloud settings and print them resolved (secrets hidden)."""
    settings = build_settings(config_path)
    click.echo(settings.model_dump_json(indent=2))
