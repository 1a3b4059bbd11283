"""``dancebooth edge run``: a node's process, from settings to a clean stop on a signal."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from edge.node import EdgeNode, NodeError
from edge.pose.base import PoseError
from edge.publisher import PublisherError
from edge.settings import EdgeSettings
from edge.sources import SourceError
from edge.spool import SpoolError
from protocol.ids import check_id, new_session_id

logger = logging.getLogger(__name__)


def run_node(
    settings: EdgeSettings,
    *,
    capture_s: float | None = None,
    session: str | None = None,
    drain: bool = False,
    node: EdgeNode | None = None,
) -> None:
    """Start the node; capture standalone or serve commands; stop cleanly on SIGINT/SIGTERM."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _serve(settings, stop, capture_s, session, drain, node)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(
    settings: EdgeSettings,
    stop: threading.Event,
    capture_s: float | None,
    session: str | None,
    drain: bool,
    node: EdgeNode | None,
) -> None:
    try:
        node = node or EdgeNode(settings)
        node.start()
    except (PoseError, PublisherError, SpoolError, SourceError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if capture_s is not None:
            sid = check_id(session, "session id") if session else new_session_id()
            node.capture(sid, capture_s)
            click.echo(f"capturing session {sid} for {capture_s:g} s")
        if capture_s is not None or drain:
            _wait_sent(node, stop)
        else:
            click.echo(f"node {settings.node.node} of booth {settings.node.booth} running")
            stop.wait()
    except (NodeError, SourceError, SpoolError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        node.stop()


def _wait_sent(node: EdgeNode, stop: threading.Event) -> None:
    """Show the spool draining until every packet and manifest is acknowledged."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("sending", total=None)
        most = 0
        while not stop.is_set() and not node.wait_idle(timeout=0.25):
            depth = node.spool.depth()
            most = max(most, depth)
            progress.update(task, total=most, completed=most - depth)
    if not stop.is_set():
        click.echo("all frames and manifests acknowledged by the broker")
