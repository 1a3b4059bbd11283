"""``dancebooth bench api``: many SSE clients + a steady request rate against the API on PostgreSQL.

The API runs as ``dancebooth cloud api`` in a subprocess (uvicorn, a throwaway
PostgreSQL database). The load is open-loop: a request is sent on schedule whether
or not earlier ones have answered, so a slow server shows up as latency instead of
a lower request rate. Besides request latency it measures how long a change takes
to reach the event-stream clients (registration answered → its ``session`` event).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import click
import httpx
from rich.progress import Progress

from cloud.mqtt.broker import free_port
from cloud.mqtt.mosquitto import stop_process

PASSWORD = "bench-password-1234"
CSRF = {"X-Dancebooth": "1"}


@dataclass
class Results:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    registered: dict[str, float] = field(default_factory=dict)  # session -> answered (wall)
    late_starts: int = 0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


_SESSION_ID = re.compile(rb'"id": "([A-Za-z0-9_-]+)"')


@dataclass
class StreamResults:
    connected: int = 0
    errors: int = 0
    connect_s: list[float] = field(default_factory=list)
    arrivals: list[tuple[str, float]] = field(default_factory=list)  # (session, wall time)


async def _stream(port: int, cookie: str, out: StreamResults, stop: asyncio.Event) -> None:
    """One event-stream client on a raw socket: cheap enough to run hundreds per process."""
    t0 = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        if not head.startswith(b"HTTP/1.1 200"):
            out.errors += 1
            return
        out.connected += 1
        out.connect_s.append(time.perf_counter() - t0)
        buffer = b""
        while not stop.is_set():
            data = await reader.read(65536)
            if not data:
                if not stop.is_set():
                    out.errors += 1
                return
            now = time.time()
            *events, buffer = (buffer + data).split(b"\n\n")
            for event in events:
                if b"event: session" in event and (m := _SESSION_ID.search(event)):
                    out.arrivals.append((m.group(1).decode(), now))
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        out.errors += 1


def _stream_process(port: int, cookie: str, n: int, ready: Any, stop: Any, results: Any) -> None:
    """Child process: ``n`` streams until ``stop`` is set, then send the results back."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()

    async def main() -> StreamResults:
        out, done = StreamResults(), asyncio.Event()
        tasks = [asyncio.create_task(_stream(port, cookie, out, done)) for _ in range(n)]
        while out.connected + out.errors < n:
            await asyncio.sleep(0.05)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        done.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return out

    results.put(asyncio.run(main()))


async def _request(client: httpx.AsyncClient, res: Results, sessions: list[str]) -> None:
    roll = random.random()
    t0 = time.perf_counter()
    try:
        if roll < 0.2 or not sessions:
            name = "POST /api/visitors"
            email = f"v{uuid.uuid4().hex[:10]}@example.com"
            r = await client.post("/api/visitors", json={"email": email, "consent": True})
            if r.status_code == 201:
                sid = r.json()["id"]
                res.registered[sid] = time.time()
                sessions.append(sid)
        elif roll < 0.85:
            name = "GET /api/visitors/{id}/status"
            r = await client.get(f"/api/visitors/{random.choice(sessions)}/status")
        else:
            name = "GET /api/jobs"
            r = await client.get("/api/jobs")
        res.latency[name].append(time.perf_counter() - t0)
        if r.status_code >= 400:
            res.errors[name] += 1
    except (httpx.HTTPError, OSError):
        res.errors["transport"] += 1


async def _load(
    base: str, cookies: dict[str, str], rate: float, seconds: float, progress: Progress
) -> Results:
    """Open-loop requests: one is started every 1/rate s whether or not others answered."""
    res = Results()
    sessions: list[str] = []
    limits = httpx.Limits(max_connections=500, max_keepalive_connections=500)
    async with httpx.AsyncClient(
        base_url=base, cookies=cookies, headers=CSRF, limits=limits, timeout=30
    ) as client:
        task = progress.add_task(f"{rate:.0f} requests/s", total=seconds)
        pending: set[asyncio.Task[None]] = set()
        start, n = time.perf_counter(), 0
        while (now := time.perf_counter() - start) < seconds:
            if now - n / rate > 0.05:
                res.late_starts += 1
            t = asyncio.create_task(_request(client, res, sessions))
            pending.add(t)
            t.add_done_callback(pending.discard)
            n += 1
            progress.update(task, completed=now)
            await asyncio.sleep(max(0.0, n / rate - (time.perf_counter() - start)))
        await asyncio.gather(*pending)
    return res


def _run(
    base: str, port: int, sse: int, rate: float, seconds: float
) -> tuple[Results, StreamResults]:
    login = httpx.post(
        base + "/api/auth/login", headers=CSRF, json={"name": "bench", "password": PASSWORD}
    )
    login.raise_for_status()
    cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
    ctx = multiprocessing.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    streams = ctx.Process(target=_stream_process, args=(port, cookie, sse, ready, stop, out))
    streams.start()
    try:
        if not ready.wait(60):
            raise click.ClickException("the event-stream clients did not connect in 60 s")
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        with Progress() as progress:
            res = asyncio.run(_load(base, dict(login.cookies), rate, seconds, progress))
        time.sleep(2.0)  # let the last changes reach the streams
        stop.set()
        stream_res: StreamResults = out.get(timeout=60)
    finally:
        streams.join(10)
        if streams.is_alive():
            streams.kill()
    return res, stream_res


def _database(admin_url: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"dancebooth_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _drop(admin_url: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _prepare(url: str) -> None:
    from cloud.api.security import add_operator
    from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database

    upgrade_database(url)
    engine = make_engine(url)
    with transaction(session_factory(engine)) as db:
        add_operator(db, "bench", PASSWORD)
    engine.dispose()


def _start_api(url: str, port: int, workers: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DANCEBOOTH_CLOUD_DATABASE__URL": url,
        "DANCEBOOTH_CLOUD_STORAGE__TYPE": "local",
        "DANCEBOOTH_CLOUD_STORAGE__ROOT": str(
            Path(tempfile.gettempdir()) / "dancebooth-bench-store"
        ),
        "DANCEBOOTH_CLOUD_API__SECRET_KEY": uuid.uuid4().hex * 2,
        # every bench client shares one IP; the kiosk limit is per IP
        "DANCEBOOTH_CLOUD_API__KIOSK_PER_MINUTE": "1000000",
    }
    cmd = [
        sys.executable,
        "-m",
        "dancebooth",
        "cloud",
        "api",
        "--no-mqtt",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=log)


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the API exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base + "/openapi.json", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise click.ClickException("the API did not start in time")


def _row(name: str, values: list[float], errors: int) -> str:
    p = [_percentile(values, q) * 1000 for q in (50, 90, 99, 100)]
    return f"{name:34s} {len(values):6d} {errors:5d} " + " ".join(f"{v:8.1f}" for v in p)


def _report(
    res: Results, st: StreamResults, sse: int, rate: float, seconds: float, workers: int
) -> bool:
    click.echo(
        f"\nAPI ({workers} process(es)) on PostgreSQL, {sse} SSE clients, "
        f"{rate:.0f} req/s for {seconds:.0f} s"
    )
    click.echo(
        f"{'endpoint':34s} {'n':>6s} {'err':>5s} {'p50 ms':>8s} {'p90 ms':>8s} "
        f"{'p99 ms':>8s} {'max ms':>8s}"
    )
    everything = [v for values in res.latency.values() for v in values]
    for name, values in sorted(res.latency.items()):
        click.echo(_row(name, values, res.errors.get(name, 0)))
    errors = sum(res.errors.values())
    click.echo(_row("all requests", everything, errors))
    click.echo(
        f"event streams: {st.connected}/{sse} connected, {st.errors} errors, "
        f"connect p99 {_percentile(st.connect_s, 99) * 1000:.0f} ms"
    )
    lag = [t - res.registered[sid] for sid, t in st.arrivals if sid in res.registered]
    expected = len(res.registered) * st.connected
    click.echo(
        f"change → event: {len(lag)}/{expected} delivered, "
        f"p50 {_percentile(lag, 50) * 1000:.0f} ms, p99 {_percentile(lag, 99) * 1000:.0f} ms"
        " (includes the poll interval)"
    )
    if res.late_starts:
        click.echo(
            f"note: {res.late_starts} requests started >50 ms late (load client short of CPU)"
        )
    p99 = _percentile(everything, 99) * 1000
    ok = errors == 0 and st.errors == 0 and st.connected == sse and p99 < 200
    click.echo(f"goal 0 errors, p99 < 200 ms: {'PASS' if ok else 'FAIL'}")
    return ok


@click.command("api")
@click.option("--sse", default=200, show_default=True, help="Concurrent event-stream clients.")
@click.option("--rate", default=50.0, show_default=True, help="Requests per second.")
@click.option("--seconds", default=30.0, show_default=True, help="Load duration.")
@click.option("--workers", default=1, show_default=True, help="API processes (uvicorn).")
@click.option(
    "--postgres",
    default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    show_default=True,
    help="Admin URL; a throwaway database is created on it.",
)
def bench_api(sse: int, rate: float, seconds: float, workers: int, postgres: str) -> None:
    """Register visitors and poll/stream status under load; latency percentiles and errors."""
    try:
        url = _database(postgres)
    except Exception as exc:
        raise click.ClickException(f"PostgreSQL at {postgres} is needed: {exc}") from None
    proc = None
    log = tempfile.NamedTemporaryFile(prefix="dancebooth-bench-api-", suffix=".log", delete=False)
    try:
        _prepare(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = _start_api(url, port, workers, log)
        _wait_ready(base, proc)
        res, streams = _run(base, port, sse, rate, seconds)
        _report(res, streams, sse, rate, seconds, workers)
        click.echo(f"API log: {log.name}")
    finally:
        if proc is not None:
            stop_process(proc, grace=15)
        _drop(postgres, url)
