"""The embedded object store: a local directory, written atomically and durably."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from cloud.storage.base import ObjectNotFoundError, Storage, StorageError, check_key, check_prefix

logger = logging.getLogger(__name__)


class LocalStorage(Storage):
    """Objects are files under ``root``; a key's segments are its directories."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        # check_key already forbids '..'; this guards against symlinks planted in root.
        if not path.is_relative_to(self.root):
            raise StorageError(f"object key {key!r} resolves outside {self.root}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.put_stream(key, lambda f: f.write(data), content_type)

    def put_stream(
        self,
        key: str,
        write: Callable[[BinaryIO], object],
        content_type: str = "application/octet-stream",
    ) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write a temporary file, fsync it, rename over the target, fsync the directory:
        # a reader sees the old object or the new one, and a crash after return loses nothing.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb", buffering=1024 * 1024) as f:
                write(f)
                f.flush()
                size = f.tell()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._sync_dir(path.parent)
        return size

    @staticmethod
    def _sync_dir(directory: Path) -> None:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        # Tidy empty directories up to the root so deleted sessions leave no trace.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        base = prefix.rpartition("/")[0]
        start = self.root / base if base else self.root
        if not start.is_dir():
            return
        keys = []
        for dirpath, _dirs, files in os.walk(start):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        yield from sorted(keys)

    def url(self, key: str, expires_s: int = 3600) -> str:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(key)
        return path.as_uri()
