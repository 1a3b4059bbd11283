"""The dance library: the built-in reference dances (``reference_videos/``, shipped with
the booth) and those operators added from videos (a ``dances`` row each, files in the
object store under ``dances/<name>/v<version>/``).

A render loads its dance with :func:`load_dance` wherever it runs: a worker on another
machine reads an added dance from the object store, never from the API's disk.
"""

from __future__ import annotations

import logging
import mimetypes
import shutil
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session as Db

from cloud.dances import DanceNotFoundError
from cloud.db.models import Dance
from cloud.storage import Storage
from common.reference import REFERENCE_DIR, ReferenceDance, list_references, load_reference
from protocol.ids import check_id

logger = logging.getLogger(__name__)

PREFIX = "dances/"


def is_builtin(name: str, root: Path = REFERENCE_DIR) -> bool:
    return (root / name / "dance.json").is_file()


def builtin_dances(root: Path = REFERENCE_DIR) -> list[ReferenceDance]:
    return list_references(root)


def dance_prefix(name: str) -> str:
    """Every stored version of an added dance."""
    return f"{PREFIX}{check_id(name, 'dance name')}/"


def version_prefix(name: str, version: int) -> str:
    return f"{dance_prefix(name)}v{version}/"


def stored_key(row: Dance, filename: str) -> str | None:
    """Key of one file of the dance's stored version (None if nothing is stored yet)."""
    if row.version == 0:
        return None
    return version_prefix(row.name, row.version) + filename


def publish(storage: Storage, directory: Path, name: str, version: int) -> str:
    """Copy the files of a built dance directory into the store; returns their prefix."""
    prefix = version_prefix(name, version)
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

        def write(out: BinaryIO, src: Path = path) -> None:
            with src.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 20)

        storage.put_stream(prefix + path.name, write, content_type)
    return prefix


def fetch(storage: Storage, prefix: str, into: Path) -> Path:
    """The files under ``prefix``, written into the directory ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    for key in storage.list_keys(prefix):
        rest = key[len(prefix) :]
        if "/" not in rest:
            (into / rest).write_bytes(storage.get(key))
    return into


def load_dance(db: Db, storage: Storage, name: str, scratch: Path) -> ReferenceDance:
    """A built-in dance, or the stored version of an added one (fetched into ``scratch``,
    which must outlive the dance's use: its music file is there)."""
    if is_builtin(name):
        return load_reference(name)
    row = db.get(Dance, name)
    if row is None or row.version == 0:
        raise DanceNotFoundError(
            f"no dance {name!r}: it was deleted or never finished adding; pick one on the "
            "dashboard's Dances page"
        )
    target = fetch(storage, version_prefix(name, row.version), scratch / name)
    return load_reference(target)
