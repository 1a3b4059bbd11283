"""The faults a rehearsal injects, each once, at the moment it hurts most.

=====================  ============================================  =========================
fault                  when                                          what
=====================  ============================================  =========================
broker restart         40 % into the first capture                   Mosquitto stopped, started
uploader killed        half-way through the second capture           ``kill -9`` uploader-1
worker killed          a fine-tune that has saved a checkpoint       ``kill -9`` its worker
relay outage           armed at the start; begins with the first     451 for ``refuse_s``, then
                       email                                         one connection dropped
                                                                     silently
API process killed     5 s after the worker kill (or a rendering)    ``kill -9`` the API
                                                                     process serving the
                                                                     dashboard's event stream
visitor deletes        the deleting visitor's job is queued or       DELETE their data
                       training
=====================  ============================================  =========================

Killed services come back as a supervisor would restart them (:mod:`.processes`); uvicorn
replaces its own dead worker process. :class:`Faults` polls what the booth is doing and
strikes; what each fault did (and to whom) is kept for the report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session as Db

from dancebooth.rehearsal.driver import Driver, EventStream, Visitor
from dancebooth.rehearsal.topology import Topology

logger = logging.getLogger(__name__)


@dataclass
class Fault:
    name: str
    due: Callable[[], bool]
    inject: Callable[[], str]  # returns what it did
    at: float | None = None  # Unix s, once injected
    session: str | None = None  # the visitor it struck, where it struck one
    detail: str = ""
    error: str = ""


@dataclass
class Observed:
    """The database as the faults need it, read once per poll."""

    states: dict[str, str] = field(default_factory=dict)  # session -> state
    finetunes: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    # (session, job state, lease owner, checkpoint key) of fine-tune jobs


def observe(engine: Engine) -> Observed:
    from cloud.db.models import Job, Session

    with Db(engine) as db:
        states = {sid: str(state) for sid, state in db.execute(select(Session.id, Session.state))}
        jobs = db.execute(
            select(Job.session_id, Job.state, Job.lease_owner, Job.checkpoint_key).where(
                Job.kind == "finetune"
            )
        ).all()
    return Observed(states, [(s, str(st), o, k) for s, st, o, k in jobs])


class Faults:
    """The fault plan of one rehearsal; :meth:`start` runs it on a thread."""

    def __init__(
        self,
        topology: Topology,
        driver: Driver,
        events: EventStream,
        visitors: list[Visitor],
        engine: Engine,
        refuse_s: float,
        say: Callable[[str], None],
    ) -> None:
        self.topology, self.driver, self.events = topology, driver, events
        self.visitors, self.engine, self.refuse_s, self.say = visitors, engine, refuse_s, say
        self.now = Observed()
        self.plan = [
            Fault("broker restart", self._mid_capture(1, 0.4), self._restart_broker),
            Fault("uploader killed", self._mid_capture(2, 0.5), self._kill_uploader),
            Fault("worker killed", self._checkpointed, self._kill_worker),
            Fault("relay outage", lambda: True, self._relay_outage),
            Fault("API process killed", self._after_worker_kill, self._kill_api),
            Fault("visitor deletes", self._deleter_in_pipeline, self._delete_visitor),
        ]
        self.api_killed_at: float | None = None
        self.deleted_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)

    def start(self) -> Faults:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def pending(self) -> list[Fault]:
        return [f for f in self.plan if f.at is None]

    def _run(self) -> None:
        while not self._stop.wait(0.5) and self.pending():
            try:
                self.now = observe(self.engine)
            except Exception as exc:  # the database restarting is not the faults' business
                logger.info("faults: cannot read the database now: %s", exc)
                continue
            for fault in self.pending():
                if fault.due():
                    self._strike(fault)

    def _strike(self, fault: Fault) -> None:
        fault.at = time.time()
        try:
            fault.detail = fault.inject()
            logger.info("fault %s: %s", fault.name, fault.detail)
            self.say(f"fault: {fault.name}: {fault.detail}")
        except Exception as exc:
            fault.error = f"{type(exc).__name__}: {exc}"
            logger.exception("fault %s could not be injected", fault.name)

    # -- when ----------------------------------------------------------------------------
    def _mid_capture(self, nth: int, share: float) -> Callable[[], bool]:
        def due() -> bool:
            c = self.driver.capturing
            order = [v.number for v in self.visitors]
            index = order.index(c.visitor) + 1 if c is not None else 0
            return (
                c is not None
                and index >= min(nth, len(order))
                and time.time() >= c.start_at + share * c.duration_s
            )

        return due

    def _checkpointed_job(self) -> tuple[str, str] | None:
        """(session, worker) of a running fine-tune that has saved a checkpoint (not the
        deleting visitor's: their job is about to go anyway)."""
        deleting = {v.session_id for v in self.visitors if v.deletes}
        for sid, state, owner, key in self.now.finetunes:
            saved = key is not None and key.endswith("last.safetensors")
            if state == "running" and owner and saved and sid not in deleting:
                return sid, owner
        return None

    def _checkpointed(self) -> bool:
        return self._checkpointed_job() is not None

    def _rendering(self) -> bool:
        return "rendering" in self.now.states.values()

    def _after_worker_kill(self) -> bool:
        """While the dashboard watches a job go on after its worker died."""
        killed = next(f for f in self.plan if f.name == "worker killed").at
        later = killed is not None and time.time() > killed + 5
        return self.events.local_port is not None and (later or self._rendering())

    def _deleter_in_pipeline(self) -> bool:
        deleter = next((v for v in self.visitors if v.deletes), None)
        return deleter is not None and self.now.states.get(deleter.session_id) in {
            "queued",
            "training",
        }

    # -- what ----------------------------------------------------------------------------
    def _restart_broker(self) -> str:
        t0 = time.monotonic()
        self.topology.restart_broker()
        return f"Mosquitto stopped and started again in {time.monotonic() - t0:.1f} s"

    def _kill_uploader(self) -> str:
        pid = self.topology.supervisor["uploader-1"].kill()
        return f"kill -9 uploader-1 (pid {pid})"

    def _kill_worker(self) -> str:
        found = self._checkpointed_job()
        if found is None:
            raise RuntimeError("the checkpointed fine-tune finished before the kill")
        sid, owner = found
        pid = self.topology.supervisor[owner].kill()
        next(f for f in self.plan if f.name == "worker killed").session = sid
        return f"kill -9 {owner} (pid {pid}) fine-tuning {self._who(sid)}"

    def _relay_outage(self) -> str:
        assert self.topology.relay is not None
        self.topology.relay.refuse_for(self.refuse_s, then_drop_one=True)
        return f"from the first email on, 451 for {self.refuse_s:g} s, then one connection dropped"

    def _kill_api(self) -> str:
        import psutil

        api = self.topology.supervisor["api"]
        children = api.children()
        port = self.events.local_port
        target = next(
            (
                pid
                for pid in children
                if any(
                    c.raddr and c.raddr.port == port
                    for c in psutil.Process(pid).net_connections("tcp")
                )
            ),
            children[0] if children else None,
        )
        if target is None:
            raise RuntimeError("the API has no worker processes to kill")
        psutil.Process(target).kill()
        self.api_killed_at = time.time()
        serving = "the event stream's" if port is not None else "an"
        return f"kill -9 {serving} API process (pid {target}) of {len(children)}"

    def _delete_visitor(self) -> str:
        deleter = next(v for v in self.visitors if v.deletes)
        state = self.now.states.get(deleter.session_id)
        self.driver.delete(deleter)
        self.deleted_at = time.time()
        return f"{deleter.label} asked for deletion while {state}"

    def _who(self, sid: str) -> str:
        return next((v.label for v in self.visitors if v.session_id == sid), sid)
