"""Dance adds in the background: one at a time per API process, each run by
:func:`common.reference_add.run_add` as a separate process (``dancebooth reference add
--events``: the pose pipeline is edge code, which the cloud never imports), its progress
turned into the ``dances`` row's percentage and ETA, its quality report stored.

An add that succeeds gets its preview (``reference show --video``, the skeleton over the
kept video) and is copied into the object store as the dance's next version, the previous
one then deleted; one that is refused or fails leaves the stored version as it was. A
mirrored copy (``mirror``) is stored as its own dance, ``<name>-mirror``.
"""

from __future__ import annotations

import json
import logging
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

from sqlalchemy.orm import Session as Db
from sqlalchemy.orm import sessionmaker

from cloud.dances.library import dance_prefix, publish, version_prefix
from cloud.db.engine import transaction
from cloud.db.models import Dance, DanceState, utcnow
from cloud.settings import DanceSettings
from cloud.storage import Storage
from common.reference_add import (
    AddOptions,
    AddResult,
    QualityReport,
    ReferenceAddError,
    ReferenceRejected,
    run_add,
)

logger = logging.getLogger(__name__)

PROGRESS_EVERY_S = 0.5  # database writes of the progress, at most
STALLED_AFTER_S = 600.0  # an add whose row has not moved for this long died with its API
PREVIEW = "preview.mp4"
# Share of the whole add each stage ends at (pose dominates; the preview is the rest).
STAGES: Final = {"probe": (0.0, 0.02), "pose": (0.02, 0.8), "audio": (0.8, 0.82)}
STAGES_END: Final = {"write": (0.82, 0.85)}


def report_of(report: QualityReport) -> dict[str, Any]:
    """The stored report: the quality figures, plus why it was refused and what to do."""
    data = report.model_dump(mode="json")
    data["reasons"] = [p.message for p in report.problems]
    data["hints"] = [p.advice for p in report.problems]
    return data


def stage_fraction(stage: str, done: int, total: int) -> float:
    start, end = {**STAGES, **STAGES_END}.get(stage, (0.0, 0.0))
    return start + (end - start) * (done / total if total > 0 else 0.0)


class DanceAdder:
    """Runs the adds submitted to it, in order, on one background (daemon) thread.

    ``base`` holds the add options the booth does not let operators change (the pose
    backend, limits); each add's own options (trim, person, mirror, force) go on top."""

    def __init__(
        self,
        factory: sessionmaker[Db],
        storage: Storage,
        settings: DanceSettings,
        base: AddOptions | None = None,
    ) -> None:
        self.factory, self.storage, self.settings = factory, storage, settings
        self.base = base or AddOptions()
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, name: str) -> None:
        with self._lock:
            if self._thread is None:
                # A daemon: stopping the API does not wait minutes for an add to end (its
                # row then shows "stalled" and the operator adds it again).
                self._thread = threading.Thread(target=self._loop, name="dance-add", daemon=True)
                self._thread.start()
        self._queue.put(name)

    def close(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        while (name := self._queue.get()) is not None:
            self._run_logged(name)

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
            upload, title, chosen = Path(row.upload), row.title, dict(row.options)
            row.progress, row.eta_s, row.error = 0.0, None, None
        staging = Path(self.settings.upload_dir) / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=staging, prefix=f"{name}-") as tmp:
            options = self._options(Path(tmp), title, chosen)
            started, last = time.monotonic(), 0.0

            def progress(stage: str, done: int, total: int) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S:
                    last = now
                    self._progress(name, stage_fraction(stage, done, total), now - started)

            try:
                result = run_add(
                    upload, name, options, progress, timeout_s=self.settings.add_timeout_s
                )
            except ReferenceRejected as exc:
                self._finish(name, DanceState.REFUSED, report=report_of(exc.report))
                return
            except ReferenceAddError as exc:
                self._finish(name, DanceState.FAILED, error=str(exc))
                return
            self._progress(name, 0.9, time.monotonic() - started)
            self._preview(result.path, name)
            self._store(name, result, bool(options.force))

    def _options(self, root: Path, title: str, chosen: dict[str, Any]) -> AddOptions:
        start, length = chosen.get("start_s"), chosen.get("length_s")
        person = chosen.get("person")
        return self.base.model_copy(
            update={
                "root": root,
                "title": title or None,
                "start_s": start,
                "end_s": None if length is None else (start or 0.0) + length,
                "person": int(person) if isinstance(person, str) and person.isdigit() else person,
                "mirror": bool(chosen.get("mirror")),
                "force": bool(chosen.get("force")),
            }
        )

    def _preview(self, directory: Path, name: str) -> None:
        """The skeleton over the kept video (``reference show --video``), if it renders."""
        command = [sys.executable, "-m", "dancebooth", "reference", "show", name]
        command += ["--root", str(directory.parent), "--video", str(directory / PREVIEW)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            logger.warning("dance %s: no preview: %s", name, done.stderr[-500:].strip())

    def _progress(self, name: str, fraction: float, elapsed_s: float) -> None:
        fraction = min(fraction, 0.99)
        eta = elapsed_s * (1 - fraction) / fraction if fraction > 0.02 else None
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is not None:
                row.progress, row.eta_s = fraction, eta
                row.updated_at = utcnow()

    def _store(self, name: str, result: AddResult, forced: bool) -> None:
        report = report_of(result.report)
        self._publish(name, result.path, report, forced)
        if result.mirror is not None and result.mirror.is_dir():
            self._publish(result.mirror.name, result.mirror, report, forced, mirror_of=name)

    def _publish(
        self,
        name: str,
        built: Path,
        report: dict[str, Any],
        forced: bool,
        mirror_of: str | None = None,
    ) -> None:
        meta = json.loads((built / "dance.json").read_text())
        meta["stored_files"] = sorted(p.name for p in built.iterdir() if p.is_file())
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is None and mirror_of is None:
                return  # deleted meanwhile
            if row is None:
                row = Dance(name=name, runner="", options={"mirror_of": mirror_of})
                db.add(row)
                db.flush()
            old, new = row.version, row.version + 1
        publish(self.storage, built, name, new)
        with transaction(self.factory) as db:
            row = db.get(Dance, name)
            if row is None:  # deleted while storing: leave nothing behind
                self.storage.delete_prefix(dance_prefix(name))
                return
            row.version, row.meta, row.forced, row.report = new, meta, forced, report
            row.title = str(meta.get("title") or row.title or name)
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


def remove_upload(upload_dir: Path, name: str) -> None:
    shutil.rmtree(Path(upload_dir) / name, ignore_errors=True)
