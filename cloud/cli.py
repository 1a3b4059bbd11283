"""``dancebooth cloud ...``: the cloud services."""

from __future__ import annotations

from pathlib import Path

import click

from cloud.settings import CloudSettings
from protocol.settings import ConfigError, load_settings

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    envvar="DANCEBOOTH_CLOUD_CONFIG",
    help="YAML settings file (env: DANCEBOOTH_CLOUD_CONFIG).",
)


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


@cloud.command("api")
@config_option
@click.option("--host", default=None, help="Listen address (default: api.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: api.port).")
@click.option("--workers", type=int, default=1, show_default=True, help="API processes.")
@click.option("--no-mqtt", is_flag=True, help="Do not connect to the broker (UI/API only).")
def api(
    config_path: Path | None, host: str | None, port: int | None, workers: int, no_mqtt: bool
) -> None:
    """Serve the API, the kiosk and the operator dashboard."""
    import uvicorn

    from cloud.api.factory import serve_factory

    settings = build_settings(config_path)
    serve_factory.configure(settings, mqtt=not no_mqtt)
    click.echo(f"dancebooth API on http://{host or settings.api.host}:{port or settings.api.port}")
    uvicorn.run(
        "cloud.api.factory:app",
        factory=True,
        host=host or settings.api.host,
        port=port or settings.api.port,
        workers=workers,
        log_level="warning",
    )


@cloud.group()
def operator() -> None:
    """Manage operator accounts."""


@operator.command("add")
@config_option
@click.argument("name")
@click.password_option(
    envvar="DANCEBOOTH_OPERATOR_PASSWORD",
    help="Prompted for if not given (env: DANCEBOOTH_OPERATOR_PASSWORD).",
)
def operator_add(config_path: Path | None, name: str, password: str) -> None:
    """Create operator NAME (argon2-hashed password; at least 10 characters)."""
    from cloud.api.errors import BoothError
    from cloud.api.security import add_operator
    from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database

    settings = build_settings(config_path)
    upgrade_database(settings.database.url)
    try:
        with transaction(session_factory(make_engine(settings.database.url))) as db:
            add_operator(db, name, password)
    except (BoothError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"operator {name} added")


@cloud.command("worker")
@config_option
@click.option("--name", default=None, help="Worker name in job leases (default: host-pid).")
@click.option("--once", is_flag=True, help="Run at most one job, then exit.")
def worker(config_path: Path | None, name: str | None, once: bool) -> None:
    """Run jobs from the queue: fine-tune → quality gate → render → deliver."""
    import os
    import socket

    from cloud.db.engine import make_engine, session_factory, upgrade_database
    from cloud.pipeline import PipelineUnavailableError, default_pipelines
    from cloud.queue import JobQueue
    from cloud.worker import Worker

    settings = build_settings(config_path)
    try:
        pipelines = default_pipelines(settings)
    except PipelineUnavailableError as exc:
        raise click.ClickException(str(exc)) from None
    upgrade_database(settings.database.url)
    queue = JobQueue(session_factory(make_engine(settings.database.url)), settings.worker.lease_s)
    w = Worker(
        queue,
        pipelines,
        name or f"{socket.gethostname()}-{os.getpid()}",
        settings.worker.heartbeat_s,
        settings.worker.poll_s,
    )
    click.echo(f"worker {w.name} waiting for jobs (Ctrl-C to stop)")
    try:
        w.run_once() if once else w.run_forever()
    except KeyboardInterrupt:
        w.stop()
