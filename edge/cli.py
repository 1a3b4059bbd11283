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
def run(config_path: Path | None, capture_s: float | None, session: str | None,
        drain: bool) -> None:  # fmt: skip
    """Run the node: serve the booth's capture commands until stopped (Ctrl-C / SIGTERM)."""
    from edge.runner import run_node

    settings = build_settings(config_path)
    run_node(settings, capture_s=capture_s, session=session, drain=drain)
