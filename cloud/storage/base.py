"""The object store: one small interface for shards and renditions, and the key rules.

Keys are ``/``-separated segments of letters, digits, ``-``, ``_`` and ``.`` (never a
segment of only dots), so a key built from message fields can never climb out of its
prefix or name an absolute path, in a directory or in a bucket.

StorageError
├── StorageKeyError   a key that breaks the rules above
└── ObjectNotFoundError    reading a key that holds nothing
"""

from __future__ import annotations

import io
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import BinaryIO, Final

_SEGMENT_RE: Final = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MAX_KEY_LEN: Final = 1024


class StorageError(Exception):
    """The object store failed or was asked for something it must refuse."""


class StorageKeyError(StorageError, ValueError):
    """A key that could escape its prefix or is otherwise not allowed."""


class ObjectNotFoundError(StorageError, KeyError):
    """No object under this key."""


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe object key, else raise :class:`StorageKeyError`."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LEN:
        raise StorageKeyError(f"invalid object key {key!r}: must be 1-{MAX_KEY_LEN} characters")
    for segment in key.split("/"):
        if not _SEGMENT_RE.match(segment) or set(segment) == {"."}:
            raise StorageKeyError(
                f"invalid object key {key!r}: segment {segment!r} must be letters, digits, "
                "'-', '_' or '.', and not only dots"
            )
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty, or a safe key optionally ending in ``/``."""
    if prefix:
        check_key(prefix.removesuffix("/"))
    return prefix


class Storage(ABC):
    """Where shards and renditions live.

    Implementers provide durable, atomic ``put`` (after it returns, a crash loses
    nothing and a reader never sees a half-written object), ``get``, ``exists``,
    ``delete`` (idempotent), ``list_keys`` (sorted, under a prefix) and ``url`` (a link
    a browser can fetch for ``expires_s`` seconds). Every method calls
    :func:`check_key` on the keys it is given.
    """

    @abstractmethod
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        """Store ``data`` under ``key``, replacing any previous object, durably."""

    def put_stream(
        self,
        key: str,
        write: Callable[[BinaryIO], object],
        content_type: str = "application/octet-stream",
    ) -> int:
        """Store what ``write`` writes to the file it is given; return the size.

        Same guarantees as :meth:`put`. Stores that can write in place override this
        to skip building the object in memory first.
        """
        buf = io.BytesIO()
        write(buf)
        data = buf.getvalue()
        self.put(key, data, content_type)
        return len(data)

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; raise :class:`ObjectNotFoundError` if there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object if present."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix``, in sorted order."""

    @abstractmethod
    def url(self, key: str, expires_s: int = 3600) -> str:
        """A link to read the object (presigned for S3, ``file://`` for a directory)."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix`` (e.g. a visitor's session); return the count."""
        keys = list(self.list_keys(check_prefix(prefix)))
        for key in keys:
            self.delete(key)
        return len(keys)

    def close(self) -> None:  # noqa: B027 - optional hook, most stores hold nothing
        """Release connections."""
