"""The quarantine: spooled frames that cannot be used, moved aside for a person to look at.

A frame whose JPEG does not decode would otherwise stay first in the annotator's queue
for ever and stall every frame behind it. Its bytes go to
``<spool dir>/quarantine/<session>/<seq>.jpg`` with the reason next to them
(``<seq>.txt``); the spool forgets the frame and lists it as lost in the capture's
manifest. Quarantined files are removed with their capture (cancel) or after the
spool's ``keep_acked_s``, like acknowledged packets: they are a visitor's images.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path


class Quarantine:
    """A directory of quarantined frames, one folder per session."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def put(self, session: str, seq: int, data: bytes, reason: str) -> str:
        """Write the frame's bytes and the reason; say where they went.

        A quarantine that cannot be written does not keep the frame in the queue: its
        bytes are given up and the answer says why.
        """
        folder = self.directory / session
        path = folder / f"{seq:06d}.jpg"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.with_suffix(".txt").write_text(reason + "\n")
        except OSError as exc:
            return f"its bytes could not be kept in {folder}: {exc}"
        return str(path)

    def files(self, session: str) -> list[Path]:
        folder = self.directory / session
        return sorted(folder.glob("*.jpg")) if folder.is_dir() else []

    def sessions(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir() if p.is_dir() and any(p.iterdir()))

    def remove(self, session: str) -> None:
        shutil.rmtree(self.directory / session, ignore_errors=True)

    def expire(self, older_than_s: float) -> int:
        """Remove quarantined files older than ``older_than_s``; return how many frames."""
        if not self.directory.is_dir():
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for folder in self.directory.iterdir():
            for path in folder.glob("*.jpg"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
                    path.with_suffix(".txt").unlink(missing_ok=True)
                    removed += 1
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        return removed
