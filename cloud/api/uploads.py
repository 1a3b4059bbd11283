"""An uploaded video, streamed from the request to a file: never whole in memory, its
size counted as it arrives, its first bytes checked to be a video container.

UploadError (a BoothError)
├── UploadTooLargeError     413: over dances.max_upload_mb
├── NotAVideoError          415: not a container a pose backend can read
└── EmptyUploadError        422: no bytes at all
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from cloud.api.errors import BoothError

CONTENT_TYPES: Final = (
    "video/mp4",
    "video/quicktime",
    "video/webm",
    "video/x-matroska",
    "video/x-msvideo",
    "video/mpeg",
    "application/octet-stream",
)
SNIFF_BYTES: Final = 12


class UploadError(BoothError):
    """An upload that cannot be kept; nothing of it stays on disk."""


class UploadTooLargeError(UploadError):
    pass


class NotAVideoError(UploadError):
    pass


class EmptyUploadError(UploadError):
    pass


def container(head: bytes) -> str | None:
    """The file suffix of the video container ``head`` starts, or None."""
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return ".mp4" if head[8:10] != b"qt" else ".mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return ".mkv"  # Matroska and WebM
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return ".avi"
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):
        return ".mpg"
    if head.startswith(b"FLV"):
        return ".flv"
    return None


def check_content_type(value: str | None) -> None:
    kind = (value or "").split(";")[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise NotAVideoError(
            f"send the video file itself as the body, with Content-Type one of "
            f"{', '.join(CONTENT_TYPES)} (got {kind or 'none'})"
        )


def check_length(declared: str | None, max_bytes: int) -> None:
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise UploadTooLargeError(_too_large(int(declared), max_bytes))


def _too_large(size: int, max_bytes: int) -> str:
    return (
        f"the video is {size / 1e6:.0f} MB; the limit is {max_bytes / 1e6:.0f} MB "
        "(dances.max_upload_mb): trim or re-encode it first"
    )


async def save_upload(chunks: AsyncIterator[bytes], stem: Path, max_bytes: int) -> Path:
    """Write ``chunks`` to ``stem`` + the container's suffix; returns that path."""
    part = stem.with_name(stem.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    size, head = 0, b""
    try:
        with part.open("wb") as out:
            async for chunk in chunks:
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES and container(head) is None:
                        raise NotAVideoError(_not_a_video(head))
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLargeError(_too_large(size, max_bytes) + " (or more)")
                out.write(chunk)
        if size == 0:
            raise EmptyUploadError("the upload is empty: choose a video file")
        suffix = container(head)
        if suffix is None:
            raise NotAVideoError(_not_a_video(head))
        target = stem.with_suffix(suffix)
        part.replace(target)
        return target
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def _not_a_video(head: bytes) -> str:
    return (
        f"this is not a video file (it starts with {head[:8]!r}): upload an MP4, MOV, "
        "WebM, MKV, AVI or MPEG video"
    )
