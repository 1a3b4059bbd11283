"""``dancebooth rehearse``: the production topology on this machine, driven and faulted,
then checked from outside (see :mod:`dancebooth.rehearsal`)."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from dancebooth.rehearsal.checks import Checker, Outcome
from dancebooth.rehearsal.configs import NODES, OPERATOR, Plan
from dancebooth.rehearsal.driver import SETTLED, Driver, EventStream, Visitor
from dancebooth.rehearsal.faults import Fault, Faults
from dancebooth.rehearsal.processes import RehearsalError
from dancebooth.rehearsal.report import print_report, verdict
from dancebooth.rehearsal.topology import STARTUP_S, Topology, wait_http

logger = logging.getLogger(__name__)

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@click.command()
@click.option(
    "--visitors",
    default=4,
    show_default=True,
    type=click.IntRange(1, 20),
    help="Visitors who must each get exactly one working link.",
)
@click.option(
    "--faults/--no-faults",
    default=True,
    show_default=True,
    help="Inject each fault once (and add one visitor who deletes their data).",
)
@click.option(
    "--budget",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=5),
    help="Fine-tune budget per visitor, s.",
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
    "--refuse",
    "refuse_s",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="How long the relay refuses mail (451), s.",
)
@click.option(
    "--timeout",
    default=900.0,
    show_default=True,
    type=click.FloatRange(min=30),
    help="Stop waiting for deliveries after this long, then check, s.",
)
@click.option(
    "--dir",
    "directory",
    default=Path("var/rehearsal"),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Configs, logs, spools and received mail; emptied at each run.",
)
@click.option(
    "--postgres",
    default=POSTGRES,
    show_default=True,
    envvar="DANCEBOOTH_REHEARSAL_POSTGRES",
    help="Admin URL of the PostgreSQL server; a fresh database is made there.",
)
@click.option("--keep-database", is_flag=True, help="Do not drop the database afterwards.")
def rehearse(
    visitors: int,
    faults: bool,
    budget: float,
    capture_s: float,
    refuse_s: float,
    timeout: float,
    directory: Path,
    postgres: str,
    keep_database: bool,
) -> None:
    """Run the production topology here (Mosquitto + TLS + ACL, PostgreSQL, S3, SMTP relay,
    API x2, uploaders x2, workers x2, edge nodes x2), drive visitors through it, inject
    faults, check every mail and link. Exits 1 when anything falls short."""
    console = Console(width=None if sys.stdout.isatty() else 160)
    plan = Plan(directory, postgres, budget_s=budget, capture_s=capture_s)
    topology = Topology(plan)
    try:
        topology.write()
    except RehearsalError as exc:
        raise click.ClickException(str(exc)) from None
    console.print(f"logs and configs: {topology.dir}")
    t0 = time.time()
    try:
        with _log_file(topology.dir / "rehearsal.log"):
            try:
                outcomes, faulted, problems = _rehearse(
                    topology, console, visitors, faults, refuse_s, timeout
                )
            finally:
                with console.status("stopping the booth"):
                    topology.stop()
                    if not keep_database:
                        topology.drop_database()
    except RehearsalError as exc:
        raise click.ClickException(str(exc)) from None
    result = verdict(outcomes, faulted, problems)
    with (topology.dir / "report.txt").open("w") as kept:  # for after the console is gone
        print_report(Console(file=kept, width=160), outcomes, faulted, t0, result)
    print_report(console, outcomes, faulted, t0, result)  # its last line is the verdict
    if not result.ok:
        raise SystemExit(1)


@contextlib.contextmanager
def _log_file(path: Path) -> Iterator[None]:
    """The rehearsal's own info lines go to a file; the console keeps progress and warnings."""
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    quieted = [(h, h.level) for h in root.handlers]
    for h, _ in quieted:
        h.setLevel(logging.WARNING)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        for h, level in quieted:
            h.setLevel(level)


def _rehearse(
    topology: Topology,
    console: Console,
    count: int,
    with_faults: bool,
    refuse_s: float,
    timeout: float,
) -> tuple[list[Outcome], list[Fault], list[str]]:
    """Start, drive, fault, check; returns what the report needs."""
    from cloud.db.engine import make_engine

    t0 = time.time()
    deadline = time.monotonic() + timeout
    topology.start(lambda line: console.print(f"[green]✓[/] {line}"))
    engine = make_engine(topology.database_url)
    driver = Driver(topology.ports.api_url, OPERATOR, topology.password, deadline)
    problems: list[str] = []
    plan: list[Fault] = []
    visitors: list[Visitor] = []
    try:
        wait_http(topology.ports.api_url + "/login", STARTUP_S)
        visitors = driver.register(count + int(with_faults), deleter=with_faults)
        driver.login()
        driver.wait_nodes(NODES)
        console.print(f"[green]✓[/] {len(visitors)} visitors registered; nodes online")
        events = EventStream(topology.ports.api_url, driver.http.cookies).start()
        faults = None
        if with_faults:
            say = lambda line: console.print(f"[yellow]⚡[/] {line}")  # noqa: E731
            faults = Faults(topology, driver, events, visitors, engine, refuse_s, say).start()
            plan = faults.plan
        try:
            _drive(driver, visitors, topology, console)
        except RehearsalError as exc:
            problems.append(str(exc))
        finally:
            if faults is not None:
                faults.stop()
            events.stop()
        problems += _event_stream(events, faults)
        problems += _lies(visitors, topology)
        checker = Checker(topology, engine, _dance_frames(topology))
        with console.status("checking mail, links, frames, database"):
            outcomes = [checker.visitor(v) for v in visitors]
        problems += _resumed(plan, checker)
        problems += _outage(plan, topology, refuse_s, t0)
        with console.status("checking the live mirror"):
            problems += _mirror(driver, topology, visitors, console)
        problems += _services(topology)
    finally:
        driver.close()
        engine.dispose()
    return outcomes, plan, problems


def _drive(driver: Driver, visitors: list[Visitor], topology: Topology, console: Console) -> None:
    with _progress(console) as progress:
        task = progress.add_task("captures", total=len(visitors))
        for i, v in enumerate(visitors):

            def tick(what: str, share: float, i: int = i) -> None:
                progress.update(task, description=what, completed=i + share)

            driver.capture(v, tick)
            driver.wait_uploaded(v)
            progress.update(task, description=f"{v.label}: frames stored", completed=i + 1)
        tasks = {v.session_id: progress.add_task(v.label, total=100) for v in visitors}
        while not _settled(visitors, topology):
            _watch(driver, visitors, topology, progress, tasks)
            driver.left("the deliveries")
            time.sleep(1.0)
        _watch(driver, visitors, topology, progress, tasks)


def _watch(
    driver: Driver,
    visitors: list[Visitor],
    topology: Topology,
    progress: Progress,
    tasks: dict[str, TaskID],
) -> None:
    """One look at the dashboard: record what the operator is shown, update the bars."""
    assert topology.relay is not None
    board, jobs = driver.board()
    now = time.time()
    for v in visitors:
        state = board.get(v.session_id, {}).get("state", "deleted")
        if state not in v.states:
            v.states[state] = now
            if state == "delivered" and not topology.relay.mail_to(v.email):
                v.states["delivered-before-mail"] = now
            progress.console.print(f"{v.label}: {state}")
        job = jobs.get(v.session_id)
        pct = 100.0 * float(job["progress"]) if job else 0.0
        mail = topology.relay.mail_to(v.email)
        shown = f"{v.label}: {state}" + (" (mail at the relay)" if mail else "")
        progress.update(
            tasks[v.session_id], description=shown, completed=100 if state in SETTLED else pct
        )


def _settled(visitors: list[Visitor], topology: Topology) -> bool:
    assert topology.relay is not None
    for v in visitors:
        last = max(v.states, key=v.states.__getitem__) if v.states else ""
        if v.deletes:
            if "deleted" not in v.states:
                return False
        elif last not in SETTLED or (last == "delivered" and not topology.relay.mail_to(v.email)):
            return False
    return True


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console
    )


def _event_stream(events: EventStream, faults: Faults | None) -> list[str]:
    if not events.connects:
        return ["the dashboard's event stream never connected"]
    if faults is None or faults.api_killed_at is None:
        return []
    back = [t for t in events.connects if t > faults.api_killed_at]
    if len(events.connects) > 1 and not back:
        return ["the event stream did not reconnect after the API process died"]
    if back and not events.events_since(back[0]):
        return ["the event stream reconnected but no event came after"]
    return []


def _lies(visitors: list[Visitor], topology: Topology) -> list[str]:
    return [
        f"{v.label} was shown 'delivered' before their email reached the relay"
        for v in visitors
        if "delivered-before-mail" in v.states
    ]


MIRROR_FOLLOW_S = 10.0  # the mirror reads the lineup every second


def _mirror(
    driver: Driver, topology: Topology, visitors: list[Visitor], console: Console
) -> list[str]:
    """The operator puts visitor 1 (who ticked the live box) on the mirror: the mirror
    process wears their model; they delete their data: the mirror takes it off."""
    v = visitors[0]
    if v.deletes or driver.status(v) != "delivered":
        return [f"live mirror: {v.label} was not delivered, so nobody was put on the mirror"]
    url = f"http://127.0.0.1:{topology.ports.mirror}/mirror/stats"
    body = {"wearers": [v.session_id]}
    driver.call("PUT", "/api/booth/mirror", "putting a visitor on the mirror", json=body)
    t = time.monotonic()
    if not _mirror_shows(url, lambda s: s.get("wearing_session") == v.session_id):
        return [f"live mirror: {v.label}'s model was not worn {MIRROR_FOLLOW_S:g} s after the pick"]
    on = time.monotonic() - t
    driver.delete(v)
    t = time.monotonic()
    if not _mirror_shows(
        url, lambda s: s.get("wearing_session") is None and v.session_id not in s.get("lineup", [])
    ):
        return [f"live mirror: {v.label}'s model still worn {MIRROR_FOLLOW_S:g} s after deletion"]
    off = time.monotonic() - t
    console.print(
        f"[green]✓[/] live mirror wore {v.label}'s model {on:.1f} s after the operator's pick,"
        f" and took it off {off:.1f} s after they deleted their data"
    )
    return []


def _mirror_shows(url: str, ok: Callable[[dict[str, Any]], bool]) -> bool:
    import httpx

    deadline = time.monotonic() + MIRROR_FOLLOW_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            if ok(httpx.get(url, timeout=2).json()):
                return True
        time.sleep(0.1)
    return False


def _services(topology: Topology) -> list[str]:
    out = []
    for svc in topology.supervisor.services.values():
        if not svc.running():
            out.append(f"{svc.name} is not running at the end (see {svc.log})")
    kids = topology.supervisor["api"].children()
    if len(kids) != topology.plan.api_processes:
        out.append(f"the API runs {len(kids)} processes, not {topology.plan.api_processes}")
    return out


def _resumed(plan: list[Fault], checker: Checker) -> list[str]:
    """The killed worker's fine-tune went on from its checkpoint (another attempt)."""
    for fault in plan:
        if fault.name == "worker killed" and fault.session is not None:
            attempts, start_step = checker.resumed(fault.session)
            fault.detail += f"; the job: attempt {attempts}, resumed at step {start_step}"
            if attempts < 2 or not start_step:
                return ["the killed worker's fine-tune did not resume from its checkpoint"]
    return []


def _outage(plan: list[Fault], topology: Topology, refuse_s: float, t0: float) -> list[str]:
    """When the relay's outage began (with the first email) and what it turned away."""
    relay = topology.relay
    fault = next((f for f in plan if f.name == "relay outage" and f.at is not None), None)
    if fault is None or relay is None:
        return []
    if relay.outage_started is None:
        return ["the relay's outage never met an email"]
    fault.at = relay.outage_started  # armed earlier; the table shows when it struck
    fault.detail = (
        f"began with the first email: {relay.refused} refused with 451 in {refuse_s:g} s, "
        f"then {relay.dropped} connection(s) dropped silently"
    )
    return []


def _dance_frames(topology: Topology) -> int:
    """Frames a rendition has: the dance's, between the intro and outro cards."""
    from cloud.render.card import Cards
    from cloud.settings import RenderSettings
    from common.reference import load_reference

    config = topology.cloud_config()
    dance = load_reference(config["worker"]["dance"])
    r = RenderSettings.model_validate(config.get("render", {}))
    cards = Cards("")
    return (
        len(dance.keypoints)
        + cards.frames(r.intro_s, dance.fps)
        + cards.frames(r.outro_s, dance.fps)
    )


__all__ = ["rehearse"]
