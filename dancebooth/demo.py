"""``dancebooth demo``: the whole booth on this machine with the embedded defaults.

Starts the embedded broker, SQLite, the local store, outbox mail, the API + booth UI,
two edge nodes on synthetic visitors, the uploader and one worker
(:mod:`dancebooth.demo_booth`), then drives it as a booth's people would
(:mod:`dancebooth.demo_drive`): visitors register at the kiosk, the operator starts each
capture, the worker fine-tunes, renders and emails the link.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console

from dancebooth.demo_booth import OPERATOR, DemoBooth, DemoError, DemoOptions
from dancebooth.demo_drive import Delivery, Driver, Held, Outcome, progress_bar

logger = logging.getLogger(__name__)
# The nodes take their plates after empty_for_s (5 s) of nobody in view: wait a little longer.
PLATE_WAIT_S = 15.0


@click.command()
@click.option(
    "--visitors",
    default=1,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Synthetic visitors who register, dance and get a video.",
)
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A real video of one person dancing: one node films it "
    "(source: video) through the blazepose backend, no synthetic visitors.",
)
@click.option(
    "--budget",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Fine-tune wall-clock budget per visitor, seconds.",
)
@click.option(
    "--resolution",
    default="128",
    show_default=True,
    type=click.Choice(["128", "256", "512"]),
    help="Model resolution; needs models/booth-<N>.safetensors (128 ships).",
)
@click.option("--dance", default=None, help="Reference dance (default: the first one).")
@click.option(
    "--dir",
    "directory",
    default=Path("var/demo"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Demo directory; each run starts a fresh database, store, outbox.",
)
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="API + UI port (a free one if taken).",
)
@click.option(
    "--capture",
    "capture_s",
    default=15.0,
    show_default=True,
    type=click.FloatRange(1, 120),
    help="Seconds each visitor dances.",
)
@click.option(
    "--once",
    is_flag=True,
    help="Exit after every delivery (for CI) instead of serving the UI until Ctrl-C.",
)
@click.option(
    "--hold",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="With --once: keep serving this long after the last delivery, s.",
)
@click.option(
    "--timeout",
    default=1800.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Give up (exit 1) if the deliveries take longer than this, s.",
)
def demo(
    visitors: int,
    video: Path | None,
    budget: float,
    resolution: str,
    dance: str | None,
    directory: Path,
    port: int,
    capture_s: float,
    once: bool,
    hold: float,
    timeout: float,
) -> None:
    """Run the whole booth on this machine with the embedded defaults."""
    opts = DemoOptions(
        directory=directory,
        port=port,
        visitors=visitors,
        budget_s=budget,
        resolution=int(resolution),
        dance=dance,
        video=video,
        capture_s=capture_s,
    )
    console = Console()
    booth = DemoBooth(opts)
    try:
        booth.prepare()
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    previous = signal.signal(signal.SIGTERM, _interrupt)  # kill/docker stop: as Ctrl-C
    dumps = _dump_stacks_on_usr1()
    try:
        with _quiet_console_log(directory / "demo.log") as log:
            console.print(f"log: {log}")
            held = _serve(booth, console, timeout, once, hold)
    finally:
        signal.signal(signal.SIGTERM, previous)
        if dumps:
            faulthandler.unregister(signal.SIGUSR1)
    if held:
        raise SystemExit(HELD_EXIT)


HELD_EXIT = 3  # --once: the quality gate held a video for the operator


def _dump_stacks_on_usr1() -> bool:
    """`kill -USR1 <pid>` prints every thread's stack to stderr: what a hung booth is
    waiting for. Only where stderr is a real file (not under a test runner's capture)."""
    try:
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    except (AttributeError, ValueError, OSError):  # no file descriptor behind stderr
        return False
    return True


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _serve(booth: DemoBooth, console: Console, timeout: float, once: bool, hold: float) -> bool:
    """Run the booth; with ``once``, True when a visitor's video was held for review."""
    try:
        outcomes = _run(booth, console, timeout)
        if once:
            if hold:
                console.print(f"serving for {hold:g} s more (--hold)")
                time.sleep(hold)
            return any(isinstance(o, Held) for o in outcomes)
        console.print(f"[bold]the booth keeps running at {booth.url}/operator: Ctrl-C stops it")
        threading.Event().wait()
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        booth.stop()
    return False


@contextlib.contextmanager
def _quiet_console_log(path: Path) -> Iterator[Path]:
    """The parts' info lines go to a log file; the console keeps the stages and warnings
    (all of it with -v). Undone on exit."""
    root, amqtt = logging.getLogger(), logging.getLogger("amqtt")
    verbose = logging.getLogger("cloud").level <= logging.DEBUG
    quieted = [h for h in root.handlers if not verbose and h.level == logging.NOTSET]
    file = logging.FileHandler(path, encoding="utf-8")
    file.setLevel(logging.INFO)
    file.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    amqtt_level = amqtt.level
    for handler in quieted:
        handler.setLevel(logging.WARNING)
    root.addHandler(file)
    # The clients probe for MQTT v5, which the embedded broker refuses by design.
    amqtt.setLevel(logging.ERROR)
    try:
        yield path
    finally:
        root.removeHandler(file)
        file.close()
        amqtt.setLevel(amqtt_level)
        for handler in quieted:
            handler.setLevel(logging.NOTSET)


def _run(booth: DemoBooth, console: Console, timeout: float) -> list[Outcome]:
    t0 = time.monotonic()
    opts = booth.opts
    mqtt_port = booth.start_broker()
    console.print(f"[green]✓[/] MQTT broker (embedded) on 127.0.0.1:{mqtt_port}")
    booth.start_cloud(mqtt_port)
    assert booth.settings is not None
    console.print(
        f"[green]✓[/] API + booth UI on [bold]{booth.url}[/] (kiosk /, operator "
        f"/operator); SQLite, local store and outbox in {opts.directory}"
    )
    console.print(f"  operator login: [bold]{OPERATOR}[/] / password [bold]{booth.password}[/]")
    console.print(
        f"[green]✓[/] uploader and worker running (fine-tune budget {opts.budget_s:g} s "
        f"from {booth.settings.training.booth_checkpoint}, dance "
        f"{booth.settings.worker.dance})"
    )
    booth.start_nodes(mqtt_port)
    names = [n.node for n in booth.nodes]
    how = "video + blazepose" if opts.video else "synthetic visitors + replay pose"
    console.print(f"[green]✓[/] edge nodes {', '.join(names)} running ({how})")
    mirror = booth.start_mirror(mqtt_port)
    console.print(f"[green]✓[/] live mirror of {names[0]} on [bold]{mirror}[/]")
    driver = Driver(booth, console, time.monotonic() + timeout, t0)
    try:
        registered = driver.register(opts.visitors)
        console.print(f"[green]✓[/] {len(registered)} visitor(s) registered at the kiosk")
        driver.login()
        driver.wait_nodes(names)
        console.print(f"[green]✓[/] operator logged in; nodes online: {', '.join(names)}")
        if opts.video is None:  # a video has no empty booth to take a plate of
            _plates(console, driver.wait_plates(names, PLATE_WAIT_S))
        with progress_bar(console) as progress:
            for visitor in registered:
                driver.capture(visitor, progress)
                driver.wait_uploaded(visitor, names, progress)
            outcomes = driver.wait_delivered(registered, progress)
    finally:
        driver.close()
    _report(console, outcomes, opts.directory)
    return outcomes


def _plates(console: Console, missing: list[str]) -> None:
    if missing:
        console.print(
            f"[yellow]![/] no clean plate from {', '.join(missing)} yet: their renditions are"
            " drawn over the clip's median background"
        )
    else:
        console.print("[green]✓[/] clean plates of the empty booth taken")


def _report(console: Console, outcomes: list[Outcome], directory: Path) -> None:
    deliveries = [d for d in outcomes if isinstance(d, Delivery)]
    for d in outcomes:
        if isinstance(d, Held):
            console.print(f"[bold yellow]held for review[/] {d.session_id}: {d.reason}")
            console.print("  the operator decides in the booth UI: approve, retake or reject")
            continue
        console.print(f"[bold green]delivered[/] {d.session_id} to {d.email}")
        console.print(f"  link:   {d.link}")
        console.print(f"  email:  {d.eml}")
        console.print(f"  video:  {d.video}")
    if deliveries:
        first = min(d.seconds_from_start for d in deliveries)
        console.print(f"first delivery {first:.0f} s after start")
    # No address or link here: they live in the email (the outbox), which deleting the
    # visitor's data removes; this file would outlive it.
    summary: list[dict[str, object]] = [
        {
            "session_id": d.session_id,
            "eml": str(d.eml),
            "video": str(d.video),
            "seconds_from_start": round(d.seconds_from_start, 1),
        }
        if isinstance(d, Delivery)
        else {
            "session_id": d.session_id,
            "held_for_review": d.reason,
            "seconds_from_start": round(d.seconds_from_start, 1),
        }
        for d in outcomes
    ]
    (directory / "deliveries.json").write_text(json.dumps(summary, indent=2) + "\n")
