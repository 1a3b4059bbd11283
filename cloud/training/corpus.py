"""Which shards make up a corpus: the synthetic booth's ``corpus.json`` or a plain store.

A corpus directory holds sessions at ``protocol.shards.shard_key`` paths. If a
``corpus.json`` index is present its entries name each session and its role
(``staff`` for the booth checkpoint, ``visitor`` for fine-tune benchmarks); without
one, every session under ``sessions/`` is taken, with no role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloud.training.errors import DataError
from protocol.shards import session_prefix


@dataclass(frozen=True)
class CorpusSession:
    session: str
    role: str | None
    shards: tuple[Path, ...]


def _entries(index: Any) -> list[dict[str, Any]]:
    if isinstance(index, dict):
        index = index.get("sessions", index.get("entries"))
    if not isinstance(index, list) or not all(isinstance(e, dict) for e in index):
        raise DataError("corpus.json must hold a list of sessions (or {'sessions': [...]})")
    return index


def _shards_of(root: Path, session: str, listed: Any) -> tuple[Path, ...]:
    if isinstance(listed, list) and listed:
        return tuple(root / str(p) for p in listed)
    return tuple(sorted((root / session_prefix(session)).rglob("*.tar")))


def corpus_sessions(root: str | Path, role: str | None = None) -> list[CorpusSession]:
    """Sessions of a corpus (those of ``role`` if given), each with its shard files."""
    root = Path(root)
    index_path = root / "corpus.json"
    sessions: list[CorpusSession] = []
    if index_path.exists():
        try:
            entries = _entries(json.loads(index_path.read_text()))
        except json.JSONDecodeError as exc:
            raise DataError(f"{index_path} is not valid JSON: {exc}") from exc
        for e in entries:
            sid = str(e.get("session") or e.get("id") or "")
            if not sid:
                raise DataError(f"{index_path}: an entry has no session id: {e}")
            listed = e.get("shards") or ([e["shard"]] if e.get("shard") else None)
            shards = _shards_of(root, sid, listed)
            sessions.append(CorpusSession(sid, e.get("role"), shards))
    elif (root / "sessions").is_dir():
        for d in sorted(p for p in (root / "sessions").iterdir() if p.is_dir()):
            sessions.append(CorpusSession(d.name, None, tuple(sorted(d.rglob("*.tar")))))
    else:
        raise DataError(f"{root} has neither corpus.json nor a sessions/ folder")
    chosen = [s for s in sessions if role is None or s.role is None or s.role == role]
    chosen = [s for s in chosen if s.shards]
    if not chosen:
        raise DataError(f"no sessions{f' of role {role!r}' if role else ''} with shards in {root}")
    return chosen
