"""Running the uploader as a service: build its parts from settings, stop on a signal."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from cloud.db.engine import make_engine, upgrade_database
from cloud.ingest.uploader import Uploader
from cloud.settings import CloudSettings
from cloud.storage import create_storage
from common.mqtt import MqttError

logger = logging.getLogger(__name__)


def run_uploader(settings: CloudSettings, migrate: bool = True, stats_every: float = 10.0) -> None:
    """Run until SIGINT/SIGTERM; print a stats line every ``stats_every`` seconds."""
    if migrate:
        upgrade_database(settings.database.url)
    engine = make_engine(settings.database.url)
    storage = create_storage(settings.storage)
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping after the batch in hand", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    uploader = Uploader(settings, storage, engine)
    try:
        uploader.start()
    except MqttError as exc:
        raise click.ClickException(str(exc)) from None
    version, mode = ("v5" if uploader.v5 else "3.1.1"), ("shared" if uploader.shared else "plain")
    click.echo(f"uploader {uploader.client_id} running (MQTT {version}, {mode} subscription)")
    try:
        while not stop.wait(stats_every):
            s = uploader.stats
            click.echo(
                f"received {s.received}  stored {s.stored}  duplicates {s.duplicates}  "
                f"without mask {s.unmasked}  "
                f"dead letters {s.dead_letters}  uploaded sessions "
                f"{len(s.sessions_uploaded)}"
            )
    finally:
        uploader.stop()
        storage.close()
        engine.dispose()
