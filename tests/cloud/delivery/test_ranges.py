"""Byte ranges for the local store: 200 / 206 / 416 as browsers need them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloud.delivery.errors import RangeNotSatisfiableError
from cloud.delivery.ranges import ByteRange, parse_range, plan_response, read_slice


@pytest.mark.parametrize(
    "header,expect",
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=0-", ByteRange(0, 999)),
        ("bytes=500-", ByteRange(500, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes=999-999", ByteRange(999, 999)),
        ("BYTES = 10 - 19", ByteRange(10, 19)),
        (None, None),
        ("", None),
        ("items=0-5", None),  # unknown unit: ignored, whole file
        ("bytes=0-1,5-9", None),  # multi-range: whole file
    ],
)
def test_parse(header: str | None, expect: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expect


@pytest.mark.parametrize(
    "header",
    [
        "bytes=1000-",
        "bytes=5000-6000",
        "bytes=9-3",
        "bytes=-0",
        "bytes=-",
        "bytes=a-b",
        "bytes=1.5-2",
        "bytes",
    ],
)
def test_unsatisfiable_or_malformed_is_416(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError) as err:
        parse_range(header, 1000)
    assert err.value.size == 1000
    plan = plan_response(1000, header)
    assert plan.status == 416 and plan.headers["Content-Range"] == "bytes */1000"
    assert plan.length == 0


def test_empty_file_ranges_are_416_and_whole_is_200() -> None:
    assert plan_response(0, "bytes=0-").status == 416
    assert plan_response(0, "bytes=-1").status == 416
    assert plan_response(0, None).status == 200


def test_206_headers_and_200_headers() -> None:
    p = plan_response(1000, "bytes=100-199")
    assert p.status == 206 and (p.start, p.length) == (100, 100)
    assert p.headers["Content-Range"] == "bytes 100-199/1000"
    assert p.headers["Content-Length"] == "100"
    assert p.headers["Accept-Ranges"] == "bytes"
    whole = plan_response(1000, None)
    assert whole.status == 200 and whole.headers["Content-Length"] == "1000"
    assert "Content-Range" not in whole.headers


@given(size=st.integers(1, 5000), a=st.integers(0, 6000), b=st.integers(0, 6000))
def test_any_satisfiable_range_lies_inside_the_file(size: int, a: int, b: int) -> None:
    try:
        r = parse_range(f"bytes={a}-{b}", size)
    except RangeNotSatisfiableError:
        assert b < a or a >= size
        return
    assert r is not None and 0 <= r.start <= r.end < size and r.start == a


def test_read_slice_streams_exactly_the_range(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4000
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    plan = plan_response(len(data), "bytes=1000-700000")
    got = b"".join(read_slice(path, plan.start, plan.length, chunk=4096))
    assert got == data[1000:700001]
    assert len(got) == int(plan.headers["Content-Length"])
