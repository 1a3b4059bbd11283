"""Every object-store key the cloud writes is built here (shards: ``protocol.shards``).

Layout::

    sessions/{session}/{node}/shard-NNNNNN.tar     captured frames (protocol.shards.shard_key)
    sessions/{session}/checkpoints/{job}/{name}     fine-tune checkpoints of one job
    sessions/{session}/model/{name}                 the fine-tuned model and its metrics
    sessions/{session}/renditions/{name}            rendered videos and posters

Everything of a visitor sits under ``sessions/{session}/``, so deleting their data is
one ``Storage.delete_prefix(session_prefix(session))``.
"""

from __future__ import annotations

import re

from cloud.storage.base import StorageKeyError
from protocol.ids import check_id
from protocol.shards import session_prefix, shard_key

__all__ = ["checkpoint_key", "model_key", "rendition_key", "session_prefix", "shard_key"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name) or ".." in name:
        raise StorageKeyError(f"invalid object name {name!r}: letters, digits, '-', '_', '.'")
    return name


def checkpoint_key(session: str, job: int, name: str) -> str:
    if job < 0:
        raise StorageKeyError(f"invalid job id {job}")
    return f"{session_prefix(session)}checkpoints/{job}/{_check_name(name)}"


def model_key(session: str, name: str) -> str:
    return f"{session_prefix(check_id(session, 'session id'))}model/{_check_name(name)}"


def rendition_key(session: str, name: str) -> str:
    return f"{session_prefix(check_id(session, 'session id'))}renditions/{_check_name(name)}"
