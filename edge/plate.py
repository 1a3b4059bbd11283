"""The clean plate: the node's image of its empty booth, at full camera resolution.

:class:`PlateKeeper` holds the current plate on disk (``plate.jpg`` + ``plate.json``
beside the spool, so a restarted node still has it) and the chunks still to be sent
for each session (``outbox/{session}/NNNN.chunk``, each deleted on the broker's PUBACK,
as spooled frames are). A capture attaches the plate current when it starts: the
booth as it was just before the visitor danced. :class:`~edge.plate_watch.PlateWatcher`
decides when to take a plate.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from edge.frames import Image
from protocol.errors import PlateError
from protocol.ids import check_id
from protocol.messages import PlateInfo
from protocol.plates import FLAG_OPERATOR, FLAG_PERSON, encode_plate_chunk, split_plate

logger = logging.getLogger(__name__)

Key = tuple[str, int]
_KEY_PREFIX = "plate/"  # outbox keys never collide with the spool's (session, seq)


class PlateKeeper:
    """The current plate and the per-session outbox of its chunks; thread-safe."""

    def __init__(self, directory: Path, node: str, jpeg_quality: int = 92) -> None:
        self.directory, self.node, self.jpeg_quality = directory, node, jpeg_quality
        self.outbox = directory / "outbox"
        self.outbox.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._image: Image | None = None
        self._info: PlateInfo | None = None
        self._visited = False  # a capture ran since the plate was taken
        self._load()

    def _load(self) -> None:
        jpeg, meta = self.directory / "plate.jpg", self.directory / "plate.json"
        if not (jpeg.exists() and meta.exists()):
            return
        try:
            info = PlateInfo.model_validate_json(meta.read_bytes())
            image = cv2.imdecode(np.fromfile(jpeg, np.uint8), cv2.IMREAD_COLOR)
        except (OSError, ValueError) as exc:
            logger.warning("ignoring the stored plate %s: %s; a new one will be taken", jpeg, exc)
            return
        if image is not None:
            self._image, self._info = np.asarray(image, np.uint8), info

    # -- the plate ------------------------------------------------------------------
    @property
    def info(self) -> PlateInfo | None:
        return self._info

    def image(self) -> Image | None:
        """The current plate (read-only array), or None before the first one."""
        return self._image

    def stale(self, refresh_after_s: float) -> bool:
        """Whether a plate should be taken: none yet, a visitor since, or too old."""
        info = self._info
        if info is None or self._visited:
            return True
        return time.time() - info.taken_at > refresh_after_s

    def visited(self) -> None:
        """A capture started: the booth is to be photographed empty again afterwards."""
        self._visited = True

    def take(self, image: Image, *, person: bool, by_operator: bool) -> PlateInfo:
        """Make ``image`` the plate (stored atomically before it is used)."""
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
        if not ok:
            raise PlateError("the plate did not encode as JPEG")
        h, w = image.shape[:2]
        info = PlateInfo(
            taken_at=time.time(), width=w, height=h, by_operator=by_operator, person=person
        )
        _write_atomic(self.directory / "plate.jpg", buf.tobytes())
        _write_atomic(self.directory / "plate.json", info.model_dump_json().encode())
        frozen = np.array(image, np.uint8)
        frozen.setflags(write=False)
        with self._lock:
            self._image, self._info, self._visited = frozen, info, False
        level = logging.WARNING if person else logging.INFO
        logger.log(
            level,
            "clean plate taken (%dx%d, %s)%s",
            w,
            h,
            "operator" if by_operator else "automatic",
            ": somebody is in it, retake it with the booth empty" if person else "",
        )
        return info

    # -- the outbox -----------------------------------------------------------------
    def attach(self, session: str) -> int:
        """Queue the current plate's chunks for ``session``; return how many (0: no plate)."""
        check_id(session, "session id")
        info = self._info
        jpeg_path = self.directory / "plate.jpg"
        if info is None or not jpeg_path.exists():
            logger.warning("no clean plate yet: session %s is sent without one", session)
            return 0
        flags = (FLAG_PERSON if info.person else 0) | (FLAG_OPERATOR if info.by_operator else 0)
        chunks = split_plate(
            session,
            self.node,
            jpeg_path.read_bytes(),
            info.width,
            info.height,
            round(info.taken_at * 1e9),
            flags,
        )
        folder = self.outbox / session
        folder.mkdir(parents=True, exist_ok=True)
        for chunk in chunks:
            _write_atomic(folder / f"{chunk.index:04d}.chunk", encode_plate_chunk(chunk))
        return len(chunks)

    def pending(self, limit: int, skip: set[Key]) -> list[tuple[Key, str, bytes]]:
        """Up to ``limit`` unacknowledged chunks: (key, session, payload)."""
        out: list[tuple[Key, str, bytes]] = []
        for folder in sorted(self.outbox.iterdir()):
            for path in _chunks(folder):
                key = (_KEY_PREFIX + folder.name, int(path.stem))
                if key in skip:
                    continue
                try:
                    out.append((key, folder.name, path.read_bytes()))
                except FileNotFoundError:  # acknowledged or dropped meanwhile
                    continue
                if len(out) >= limit:
                    return out
        return out

    def count_pending(self) -> int:
        return sum(len(_chunks(folder)) for folder in self.outbox.iterdir())

    def acked(self, key: Key) -> None:
        folder = self.outbox / key[0].removeprefix(_KEY_PREFIX)
        (folder / f"{key[1]:04d}.chunk").unlink(missing_ok=True)
        try:
            emptied = not any(folder.iterdir())
        except FileNotFoundError:  # dropped meanwhile
            return
        if emptied:
            shutil.rmtree(folder, ignore_errors=True)

    def drop(self, session: str) -> None:
        """Forget a cancelled session's chunks."""
        shutil.rmtree(self.outbox / check_id(session, "session id"), ignore_errors=True)

    @staticmethod
    def is_plate_key(key: Key) -> bool:
        return key[0].startswith(_KEY_PREFIX)


def _chunks(folder: Path) -> list[Path]:
    """A session folder's chunks, sorted; none once the uploader removed the folder
    (its last chunk acknowledged, or the session dropped) while we looked."""
    try:
        return sorted(p for p in folder.iterdir() if p.suffix == ".chunk")
    except FileNotFoundError:
        return []


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
