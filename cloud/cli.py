"""``dancebooth cloud ...``: the cloud services."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cloud.settings import CloudSettings
from common.lazy import LazyGroup
from protocol.settings import ConfigError, load_settings

logger = logging.getLogger(__name__)

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


@click.group(
    cls=LazyGroup,
    lazy={
        "operator": ("cloud.operator_cli:operator", "Manage operator accounts."),
        "mirror": ("cloud.mirror.cli:mirror", "Serve the live mirror of one node."),
    },
)
def cloud() -> None:
    """Run the cloud services."""


@cloud.command("check-config")
@config_option
def check_config(config_path: Path | None) -> None:
    """Validate the cloud settings and print them resolved (secrets hidden)."""
    settings = build_settings(config_path)
    click.echo(settings.model_dump_json(indent=2))


@cloud.command("uploader")
@config_option
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Bring the database schema up to date first.",
)
@click.option("--stats-every", default=10.0, show_default=True, help="Seconds between stat lines.")
def uploader_command(config_path: Path | None, migrate: bool, stats_every: float) -> None:
    """Store frames from MQTT into shards + database until stopped (Ctrl-C / SIGTERM)."""
    from cloud.ingest.service import run_uploader

    run_uploader(build_settings(config_path), migrate=migrate, stats_every=stats_every)


@cloud.command("migrate")
@config_option
def migrate_command(config_path: Path | None) -> None:
    """Create or upgrade the database schema (Alembic) to the latest revision."""
    from cloud.db.engine import upgrade_database

    settings = build_settings(config_path)
    upgrade_database(settings.database.url)
    click.echo("database is at the latest revision")


@cloud.command("broker-config")
@click.option("--booth", required=True, help="Booth id.")
@click.option("--nodes", required=True, help="Comma-separated node ids, e.g. n1,n2.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output directory.")
@click.option("--prefix", default="dancebooth", show_default=True, help="Topic prefix.")
@click.option(
    "--cloud-password",
    default=None,
    envvar="DANCEBOOTH_CLOUD_MQTT__PASSWORD",
    help="Password of the cloud account (env: DANCEBOOTH_CLOUD_MQTT__PASSWORD, "
    "the cloud services' own setting); default: keep or generate.",
)
@click.option(
    "--mirror-password",
    default=None,
    envvar="MQTT_MIRROR_PASSWORD",
    help="Password of the read-only mirror account (env: MQTT_MIRROR_PASSWORD, as in .env);"
    " default: keep or generate.",
)
def broker_config_command(
    booth: str,
    nodes: str,
    out: Path,
    prefix: str,
    cloud_password: str | None,
    mirror_password: str | None,
) -> None:
    """Write Mosquitto passwd + acl (and credentials.yaml) for a booth's nodes and the cloud."""
    from cloud.mqtt.accounts import CLOUD_USER, MIRROR_USER, BrokerAccounts, write_broker_config
    from protocol.errors import ProtocolError

    try:
        node_ids = tuple(n.strip() for n in nodes.split(",") if n.strip())
        accounts = BrokerAccounts(booth, node_ids, prefix)
        given = {CLOUD_USER: cloud_password, MIRROR_USER: mirror_password}
        fixed = {user: p for user, p in given.items() if p is not None}
        passwords = write_broker_config(accounts, out, fixed)
    except ProtocolError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {out / 'passwd'}, {out / 'acl'} and {out / 'credentials.yaml'} (0600)")
    click.echo(f"accounts: {', '.join(passwords)}")
    click.echo(
        "Mosquitto: password_file <dir>/passwd and acl_file <dir>/acl (see infra/mosquitto/)"
    )


@cloud.command("broker")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1883, show_default=True, help="0 picks a free port.")
def broker_command(host: str, port: int) -> None:
    """Run the embedded MQTT broker (amqtt, anonymous, MQTT 3.1.1) until Ctrl-C."""
    import threading

    from cloud.mqtt.broker import BrokerError, EmbeddedBroker

    try:
        broker = EmbeddedBroker(host, port).start()
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"embedded MQTT broker on {broker.host}:{broker.port}; Ctrl-C stops")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        broker.stop()


@cloud.command("status")
@config_option
@click.option("--sessions", "limit", default=20, show_default=True, help="Recent sessions shown.")
def status_command(config_path: Path | None, limit: int) -> None:
    """Show nodes, recent sessions with upload progress, and dead letters."""
    from rich.console import Console
    from rich.table import Table

    from cloud.db.engine import make_engine, session_factory
    from cloud.ingest import status

    engine = make_engine(build_settings(config_path).database.url)
    with session_factory(engine)() as db:
        node_rows, session_rows = status.nodes(db), status.recent_sessions(db, limit)
        total, latest = status.dead_letters(db)
        letters = [(d.received_at, d.topic, d.reason) for d in latest]
    engine.dispose()
    console = Console()
    table = Table(
        "booth", "node", "state", "session", "seen", "fps", "dropped", "no mask", title="nodes"
    )
    for n in node_rows:
        seen = f"{n.seen_at:%H:%M:%S}" if n.seen_at else "-"
        table.add_row(
            n.booth,
            n.node,
            n.state,
            n.session or "-",
            seen,
            f"{n.capture_fps:.0f}",
            str(n.dropped),
            str(n.unmasked),
        )
    console.print(table)
    table = Table(
        "session", "state", "frames per node (stored/expected)", "resends", title="recent sessions"
    )
    for s in session_rows:
        per_node = ", ".join(
            f"{n} {s.frames.get(n, 0)}/{s.expected.get(n, '?')}"
            for n in sorted(set(s.frames) | set(s.expected))
        )
        table.add_row(s.session, s.state, per_node or "-", str(s.resend_requests))
    console.print(table)
    console.print(f"dead letters: {total}")
    for at, topic, reason in letters:
        console.print(f"  {at:%H:%M:%S} {topic}: {reason}")


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
        # The app reads X-Forwarded-For itself, only from api.trusted_proxies (uvicorn's
        # own default believes any request from 127.0.0.1).
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=5,  # open event streams never end by themselves
    )


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _check_signing(settings: CloudSettings) -> None:
    """Refuse to start with a signing certificate that is missing, expired or not the
    key's (the demo makes its own here, on first run)."""
    from cloud.render.credentials import CredentialsError, signing_identity

    try:
        identity = signing_identity(settings)
    except CredentialsError as exc:
        raise click.ClickException(f"cannot sign renditions: {exc}") from None
    if identity is None:
        logger.warning("renditions are delivered unsigned (credentials.allow_unsigned)")
    else:
        logger.info("renditions are signed by %s", identity.subject)


def _check_booth_checkpoint(settings: CloudSettings) -> None:
    """Refuse to start a worker that would fail every job: no booth checkpoint, an
    unreadable one, or one at another resolution than ``training.resolution``."""
    from cloud.training.checkpoint import load_checkpoint
    from cloud.training.errors import TrainingError

    training = settings.training
    how = (
        "copy models/booth-128.safetensors there for 128 px, or make one with "
        "'dancebooth model train-base --resolution N --out PATH' (docs/booth-runbook.md, "
        "step 5)"
    )
    if training.booth_checkpoint is None:
        raise click.ClickException(
            "training.booth_checkpoint is not set (DANCEBOOTH_CLOUD_TRAINING__BOOTH_CHECKPOINT):"
            f" point it at the booth checkpoint; {how}"
        )
    if not training.booth_checkpoint.is_file():
        raise click.ClickException(
            f"no booth checkpoint at {training.booth_checkpoint} (training.booth_checkpoint): {how}"
        )
    try:
        resolution = load_checkpoint(training.booth_checkpoint).config.resolution
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    if resolution != training.resolution:
        raise click.ClickException(
            f"the booth checkpoint {training.booth_checkpoint} is {resolution} px but "
            f"training.resolution is {training.resolution} (TRAINING_RESOLUTION / "
            "DANCEBOOTH_CLOUD_TRAINING__RESOLUTION): set it to "
            f"{resolution}, or train a {training.resolution} px checkpoint"
        )


@cloud.command("worker")
@config_option
@click.option("--name", default=None, help="Worker name in job leases (default: host-pid).")
@click.option("--once", is_flag=True, help="Run at most one job, then exit.")
def worker(config_path: Path | None, name: str | None, once: bool) -> None:
    """Run jobs from the queue: fine-tune → quality gate → render → deliver."""
    import os
    import signal
    import socket

    from cloud.db.engine import make_engine, session_factory, upgrade_database
    from cloud.delivery.mailer import build_mailer
    from cloud.delivery.outbox import MailFlusher, retry_policy
    from cloud.jobs.pipeline import default_pipelines
    from cloud.jobs.queue import JobQueue
    from cloud.jobs.worker import Worker
    from cloud.retention import PeriodicSweep
    from cloud.storage import create_storage
    from cloud.training.device import resolve_device
    from cloud.training.errors import TrainingError

    settings = build_settings(config_path)
    try:  # a missing GPU fails here, not once per job attempt
        resolve_device(settings.training.device)
    except TrainingError as exc:
        raise click.ClickException(str(exc)) from None
    _check_booth_checkpoint(settings)
    _check_signing(settings)
    upgrade_database(settings.database.url)
    factory = session_factory(make_engine(settings.database.url))
    storage = create_storage(settings.storage)
    pipelines = default_pipelines(settings, factory, storage)
    # Workers already hold the store and the database and run everywhere the data is
    # used; the sweep is idempotent, so several workers sweeping is harmless.
    mailer = build_mailer(settings.mail)
    sweeper = PeriodicSweep(factory, storage, settings.retention, mailer)
    # Emails a relay refused are retried by the API processes and by idle workers.
    mail = MailFlusher(factory, mailer, retry_policy(settings.delivery), 0.0)
    queue = JobQueue(factory, settings.worker.lease_s)
    w = Worker(
        queue,
        pipelines,
        name or f"{socket.gethostname()}-{os.getpid()}",
        settings.worker.heartbeat_s,
        settings.worker.poll_s,
    )
    click.echo(f"worker {w.name} waiting for jobs (Ctrl-C to stop)")
    signal.signal(signal.SIGTERM, _interrupt)  # docker stop: give the job back, then exit
    try:
        w.run_once() if once else w.run_forever(on_idle=lambda: _idle(sweeper, mail))
    except KeyboardInterrupt:
        w.stop()


def _idle(sweeper: Callable[[], None], mail: Any) -> None:
    """A worker with nothing to do sweeps (when due) and retries refused emails."""
    sweeper()
    mail.flush_once()


@cloud.command("retention")
@config_option
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Keep running and sweep every SECONDS until stopped (compose's retention "
    "service); without it, sweep once and exit (the Kubernetes CronJob).",
)
def retention_command(config_path: Path | None, dry_run: bool, every: float | None) -> None:
    """Delete captures, models and renditions older than the retention settings."""
    import signal
    import threading

    from cloud.db.engine import make_engine, session_factory, upgrade_database
    from cloud.storage import create_storage

    settings = build_settings(config_path)
    upgrade_database(settings.database.url)
    factory = session_factory(make_engine(settings.database.url))
    storage = create_storage(settings.storage)
    if every is None:
        if _sweep_and_report(settings, factory, storage, dry_run):
            raise SystemExit(1)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # docker stop / pod shutdown
    click.echo(f"retention: sweeping every {every:g} s (Ctrl-C to stop)")
    try:
        while not stop.is_set():
            try:
                _sweep_and_report(settings, factory, storage, dry_run)
            except Exception as exc:  # the database or store is down: try next round
                click.echo(f"retention sweep failed, next try in {every:g} s: {exc}", err=True)
            stop.wait(every)
    except KeyboardInterrupt:
        pass


def _sweep_and_report(
    settings: CloudSettings, factory: Any, storage: Any, dry_run: bool
) -> dict[str, str]:
    """One sweep with a progress bar and a line per session; the sessions left to retry."""
    from rich.progress import Progress

    from cloud.delivery.mailer import build_mailer
    from cloud.retention import due, leftovers, sweep

    with factory() as db:
        total = len(due(db, settings.retention)) + len(leftovers(db, storage))
    with Progress(transient=True) as bar:
        task = bar.add_task("retention", total=total)
        report = sweep(
            factory,
            storage,
            settings.retention,
            dry_run=dry_run,
            progress=lambda _r: bar.advance(task),
            mailer=build_mailer(settings.mail),
        )
    verb = "would remove" if dry_run else "removed"
    for e in report.erased:
        rows = ", ".join(f"{n} {name}" for name, n in e.rows.items() if n) or "no rows"
        parts = ", ".join(sorted(e.parts))
        click.echo(f"{e.session_id}: {verb} {parts}: {len(e.objects)} objects, {rows}")
        for key in e.objects:
            click.echo(f"  {key}")
    for sid, why in report.failed.items():
        click.echo(f"{sid}: NOT finished (run again): {why}", err=True)
    click.echo(f"{report.dead_letters} dead letters {verb} (older than the retention)")
    click.echo(f"{len(report.erased)} sessions {verb}, {len(report.failed)} to retry")
    return report.failed


@cloud.command("erase-event")
@config_option
@click.option("--confirm", "code", help="The code the first run printed: erase what it listed.")
@click.option("--as", "who", help="Who asks (logged; default: the login user name).")
def erase_event_command(config_path: Path | None, code: str | None, who: str | None) -> None:
    """Delete everything from this event: every visitor of the booth (two steps).

    Run it once to see what would go and get a confirmation code; run it again with
    --confirm CODE to erase. Each session keeps an anonymised tombstone.
    """
    from cloud.erasure_cli import erase_event_cli

    erase_event_cli(build_settings(config_path), code, who)
