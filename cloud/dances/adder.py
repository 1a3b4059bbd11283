"""Dance adds in the background: one at a time per API process, each a separate process
running ``dancebooth reference add-job`` (the pose pipeline is edge code, which the cloud
never imports), its JSON lines turned into the ``dances`` row's progress, ETA and report.

An add that succeeds is copied into the object store as the dance's next version and the
previous one is deleted; one that is refused or fails leaves the stored version as it was.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.dances.library import dance_prefix, publish, version_prefix
from cloud.db.engine import transaction
from cloud.db.models import Dance, DanceState, utcnow
from cloud.settings import DanceSettings
from cloud.storage import Storage

logger = logging.getLogger(__name__)

DEFAULT_COMMAND = (sys.executable, "-m", "dancebooth", "reference", "add-job")
PROGRESS_EVERY_S = 0.5  # database writes of the progress, at most
STALLED_AFTER_S = 60.0  # an add whose row has not moved for this long died with its API


def option_args(options: dict[str, Any]) -> list[str]:
    """Command-line flags of ``add-job`` for the stored add options."""
    args: list[str] = []
    start, length = options.get("start_s"), options.get("length_s")
    if start is not None:
        args += ["--start", str(start)]
    if length is not None:
        args += ["--end", str((start or 0.0) + length)]
    if options.get("person") is not None:
        args += ["--person", str(options["person"])]
    for key, flag in (("mirror", "--mirror"), ("force", "--force")):
        if options.get(key):
            args.append(flag)
    return args


@dataclass
class Outcome:
    event: str = "error"
    fields: dict[str, Any] = field(default_factory=dict)


class DanceAdder:
    """Runs the adds submitted to it, in order, on one background thread."""

    def __init__(self, factory: sessionmaker[Db], storage: Storage, settings: DanceSettings):
        self.factory, self.storage, self.settings = factory, storage, settings
        self.command = list(settings.add_command or DEFAULT_COMMAND)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="dance-add")
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def submit(self, name: str) -> None:
        self._pool.submit(self._run_logged, name)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            if self._proc is not None and self._proc.poll() is None:
                self._proc.kill()

    def _run_logged(self, name: str) -> None:
        try:
            self.run(name)
        except Exception as exc:
            logger.exception("adding dance %s failed", name)
            self._finish(name, DanceState.FAILED, error=f"the add failed: {exc}")

    def run(self, name: str) -> None:
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is None or row.upload is None:
                return  # deleted meanwhile
            upload, title, options = Path(row.upload), row.title, dict(row.options)
            row.progress, row.eta_s, row.error = 0.0, None, None
        staging = Path(self.settings.upload_dir) / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=staging, prefix=f"{name}-") as tmp:
            command = [
                *self.command, str(upload), "--name", name, "--root", tmp,
                *(["--title", title] if title else []), *option_args(options),
            ]  # fmt: skip
            outcome = self._follow(name, command)
            if outcome.event == "added":
                self._store(name, Path(tmp) / name, outcome.fields, bool(options.get("force")))
            elif outcome.event == "refused":
                report = {
                    **outcome.fields.get("report", {}),
                    "reasons": outcome.fields.get("reasons", []),
                    "hints": outcome.fields.get("hints", []),
                }
                self._finish(name, DanceState.REFUSED, report=report)
            else:
                message = outcome.fields.get("message") or "the add stopped without a result"
                self._finish(name, DanceState.FAILED, error=str(message))

    def _follow(self, name: str, command: list[str]) -> Outcome:
        """Run the add, recording its progress; its last result line is the outcome."""
        outcome, started, last = Outcome(), time.monotonic(), 0.0
        with tempfile.TemporaryFile("w+") as errors:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
            with self._lock:
                self._proc = proc
            timer = threading.Timer(self.settings.add_timeout_s, proc.kill)
            timer.start()
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    event = _parse(line)
                    if event is None:
                        continue
                    kind = str(event.pop("event", ""))
                    if kind == "progress":
                        now = time.monotonic()
                        if now - last >= PROGRESS_EVERY_S:
                            last = now
                            self._progress(name, event, now - started)
                    elif kind in ("added", "refused", "error"):
                        outcome = Outcome(kind, event)
                code = proc.wait()
            finally:
                timer.cancel()
                with self._lock:
                    self._proc = None
            if code != 0 and outcome.event == "error" and not outcome.fields:
                errors.seek(0)
                tail = errors.read()[-1500:].strip()
                why = "it ran too long" if code < 0 else f"exit status {code}"
                outcome = Outcome("error", {"message": f"the add stopped ({why}): {tail}"})
        return outcome

    def _progress(self, name: str, event: dict[str, Any], elapsed_s: float) -> None:
        total = float(event.get("total") or 0)
        done = float(event.get("done") or 0)
        fraction = min(done / total, 0.99) if total > 0 else 0.0
        eta = elapsed_s * (1 - fraction) / fraction if fraction > 0.02 else None
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is not None:
                row.progress, row.eta_s = fraction, eta
                row.updated_at = utcnow()

    def _store(self, name: str, built: Path, fields: dict[str, Any], forced: bool) -> None:
        meta = json.loads((built / "dance.json").read_text())
        meta["stored_files"] = sorted(p.name for p in built.iterdir() if p.is_file())
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is None:
                return
            old, new = row.version, row.version + 1
        publish(self.storage, built, name, new)
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is None:  # deleted while storing: leave nothing behind
                self.storage.delete_prefix(dance_prefix(name))
                return
            row.version, row.meta, row.forced = new, meta, forced
            row.title = str(meta.get("title") or row.title or name)
            row.report = dict(fields.get("report") or {})
            row.state, row.progress, row.eta_s, row.error = DanceState.READY, 1.0, None, None
        if old:
            self.storage.delete_prefix(version_prefix(name, old))
        logger.info("dance %s: version %d stored (%d frames)", name, new, meta.get("frames", 0))

    def _finish(
        self,
        name: str,
        state: DanceState,
        *,
        error: str | None = None,
        report: dict[str, Any] | None = None,
    ) -> None:
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is not None:
                row.state, row.error, row.eta_s = state, error, None
                if report is not None:
                    row.report = report


def _parse(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        logger.debug("add-job printed a non-JSON line: %s", line.rstrip())
        return None
    return event if isinstance(event, dict) else None


def remove_upload(upload_dir: Path, name: str) -> None:
    shutil.rmtree(Path(upload_dir) / name, ignore_errors=True)
