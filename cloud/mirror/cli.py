"""``dancebooth cloud mirror``: serve the live mirror of one node until stopped."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click

from cloud.cli import build_settings, config_option

logger = logging.getLogger(__name__)


@click.command("mirror")
@config_option
@click.option("--node", default=None, help="Node whose dancer it shows (default: mirror.node).")
@click.option(
    "--resolution",
    type=click.Choice(["128", "256", "512"]),
    default=None,
    help="Generator size (default: mirror.resolution).",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint (default: mirror.model, else models/booth-<resolution>.safetensors).",
)
@click.option("--host", default=None, help="Listen address (default: mirror.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: mirror.port).")
def mirror(
    config_path: Path | None,
    node: str | None,
    resolution: str | None,
    model: Path | None,
    host: str | None,
    port: int | None,
) -> None:
    """Re-render one node's dancer live with the booth's generator, at /mirror."""
    from cloud.mirror.engine import MirrorModelError
    from cloud.mirror.server import MirrorServer, MirrorServerError
    from cloud.mirror.service import MirrorService, load_first, torch_loader

    settings = build_settings(config_path)
    changes = {"node": node, "resolution": resolution, "model": model, "host": host, "port": port}
    m = settings.mirror.model_validate(
        {**settings.mirror.model_dump(), **{k: v for k, v in changes.items() if v is not None}}
    )
    loader = torch_loader(m.device)
    try:
        generator = load_first(m, loader)
    except MirrorModelError as exc:
        raise click.ClickException(str(exc)) from None
    lineup, fetch = None, None
    if m.visitor_models:  # the operator's picks: the database and the object store
        from cloud.db.engine import make_engine, session_factory
        from cloud.mirror.lineup import Lineup
        from cloud.storage import create_storage

        lineup = Lineup(session_factory(make_engine(settings.database.url)), settings.booth, m.node)
        fetch = create_storage(settings.storage).get
    service = MirrorService(
        settings.mqtt, m, settings.booth, generator, loader=loader, lineup=lineup, fetch=fetch
    )
    server = MirrorServer(service, m.host, m.port)
    service.start()
    try:
        url = server.start()
    except MirrorServerError as exc:
        service.stop()
        raise click.ClickException(str(exc)) from None
    click.echo(f"mirror of {settings.booth}/{m.node} ({generator.model_version}) on {url}")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        service.stop()
