"""Byte-range serving for the local store: ``Range: bytes=...`` → 200, 206 or 416.

Browsers seek in an MP4 by asking for byte ranges; S3 answers those itself behind a
presigned link, the local store needs this. :func:`plan_response` is pure: from the
file size and the request's Range header it decides the status, headers and the
slice to send; :func:`read_slice` streams that slice. One range per request: a
multi-range request is answered with the whole file (200), which RFC 9110 allows and
which no video player needs otherwise. Malformed or unsatisfiable ranges are 416
with ``Content-Range: bytes */size``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cloud.delivery.errors import RangeNotSatisfiableError

_SPEC: Final = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start..end`` inclusive, as in ``Content-Range``."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range ``header`` asks for in a ``size``-byte file; ``None`` means all of it."""
    if header is None or not header.strip():
        return None
    unit, _, specs = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None  # unknown units are ignored (RFC 9110 §14.2)
    parts = specs.split(",")
    if len(parts) > 1:
        return None
    m = _SPEC.match(parts[0])
    if m is None or (not m[1] and not m[2]):
        raise RangeNotSatisfiableError(f"malformed range {header!r}", size)
    first, last = m[1], m[2]
    if not first:  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiableError(f"empty suffix range {header!r}", size)
        return ByteRange(max(0, size - n), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if end < start:
        raise RangeNotSatisfiableError(f"range {header!r} ends before it starts", size)
    if start >= size:
        raise RangeNotSatisfiableError(f"range {header!r} starts beyond the {size}-byte file", size)
    return ByteRange(start, min(end, size - 1))


@dataclass(frozen=True)
class RangePlan:
    """What to answer: status, headers, and the slice of the file (empty for 416)."""

    status: int
    headers: dict[str, str]
    start: int
    length: int


def plan_response(
    size: int, range_header: str | None, content_type: str = "video/mp4"
) -> RangePlan:
    """Status, headers and slice for serving a ``size``-byte file under ``range_header``."""
    base = {"Accept-Ranges": "bytes", "Content-Type": content_type}
    try:
        r = parse_range(range_header, size)
    except RangeNotSatisfiableError:
        return RangePlan(416, {**base, "Content-Range": f"bytes */{size}"}, 0, 0)
    if r is None:
        return RangePlan(200, {**base, "Content-Length": str(size)}, 0, size)
    headers = {
        **base,
        "Content-Length": str(r.length),
        "Content-Range": f"bytes {r.start}-{r.end}/{size}",
    }
    return RangePlan(206, headers, r.start, r.length)


def read_slice(path: Path, start: int, length: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """The bytes ``start .. start + length`` of ``path``, in chunks."""
    with open(path, "rb") as f:
        f.seek(start)
        left = length
        while left > 0:
            data = f.read(min(chunk, left))
            if not data:
                break
            left -= len(data)
            yield data
