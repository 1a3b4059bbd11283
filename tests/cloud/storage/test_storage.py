"""Storage contract tests, run against the local directory AND a real HTTP S3 endpoint."""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from cloud.settings import LocalStorage as LocalSettings
from cloud.settings import S3Storage as S3Settings
from cloud.storage import ObjectNotFoundError, Storage, StorageKeyError, create_storage
from protocol.errors import IdentifierError
from protocol.shards import shard_key
from tests.services import S3Endpoint

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "local":
        store = create_storage(LocalSettings(root=tmp_path / "store"))
    else:
        endpoint: S3Endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"t{abs(hash(str(tmp_path))) % 10**9}"
        store = create_storage(
            S3Settings(
                bucket=bucket,
                endpoint_url=endpoint.url,
                access_key_id="testing",
                secret_access_key="testing",
                create_bucket=True,
            )
        )
    yield store
    store.close()


def test_put_get_replace_delete(storage: Storage) -> None:
    key = shard_key("s1", "node1", 0)
    assert not storage.exists(key)
    storage.put(key, b"first")
    storage.put(key, b"second")
    assert storage.exists(key)
    assert storage.get(key) == b"second"
    storage.delete(key)
    storage.delete(key)  # idempotent
    assert not storage.exists(key)
    with pytest.raises(ObjectNotFoundError):
        storage.get(key)


def test_list_is_sorted_and_prefixed(storage: Storage) -> None:
    keys = [shard_key("s1", n, i) for n in ("node2", "node1") for i in (3, 0, 1)]
    for key in keys:
        storage.put(key, key.encode())
    storage.put(shard_key("s2", "node1", 0), b"other session")
    assert list(storage.list_keys("sessions/s1/")) == sorted(keys)
    assert list(storage.list_keys("sessions/s1/node1/")) == sorted(k for k in keys if "node1" in k)
    assert storage.delete_prefix("sessions/s1/") == 6
    assert list(storage.list_keys("sessions/")) == [shard_key("s2", "node1", 0)]


def test_put_stream_writes_what_the_writer_writes(storage: Storage) -> None:
    size = storage.put_stream("sessions/s1/n1/shard-000000.tar", lambda f: f.write(b"ab" * 1000))
    assert size == 2000
    assert storage.get("sessions/s1/n1/shard-000000.tar") == b"ab" * 1000
    with pytest.raises(RuntimeError):
        storage.put_stream("sessions/s1/n1/x", _write_half_then_fail)
    assert not storage.exists("sessions/s1/n1/x")  # nothing half-written is visible
    assert list(storage.list_keys("sessions/")) == ["sessions/s1/n1/shard-000000.tar"]


def _write_half_then_fail(f: BinaryIO) -> None:
    f.write(b"half")
    raise RuntimeError("writer failed half-way")


def test_large_object_round_trips(storage: Storage) -> None:
    data = os.urandom(6 * 1024 * 1024)
    storage.put("renditions/s1/video.mp4", data, "video/mp4")
    assert storage.get("renditions/s1/video.mp4") == data


def test_url_fetches_the_object(storage: Storage) -> None:
    storage.put("renditions/s1/video.mp4", b"movie", "video/mp4")
    with urllib.request.urlopen(storage.url("renditions/s1/video.mp4", expires_s=60)) as r:
        assert r.read() == b"movie"


@pytest.mark.parametrize(
    "key",
    [
        "../escape",
        "sessions/../../etc/passwd",
        "/abs/path",
        "a//b",
        "a/./b",
        "sessions/s1/..",
        "a\\b",
        "",
        "sessions/s 1/x",
        "a/b/",
        "…/x",
        "a\x00b",
    ],
)
def test_traversal_keys_are_refused(storage: Storage, key: str) -> None:
    for call in (
        lambda: storage.put(key, b"x"),
        lambda: storage.get(key),
        lambda: storage.exists(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(StorageKeyError):
            call()


@pytest.mark.parametrize("field", ["..", "../x", "a/b", "s1/../../etc", "+", "#", ""])
def test_message_fields_cannot_build_a_traversing_key(field: str) -> None:
    with pytest.raises(IdentifierError):
        shard_key(field, "node1", 0)
    with pytest.raises(IdentifierError):
        shard_key("s1", field, 0)


def test_local_store_refuses_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "store"
    store = create_storage(LocalSettings(root=root))
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "sessions").symlink_to(outside)
    with pytest.raises(Exception, match="outside"):
        store.put("sessions/x", b"x")
    assert not (outside / "x").exists()


def test_s3_multipart_upload(s3_endpoint: S3Endpoint) -> None:
    from cloud.storage.s3 import S3Storage

    store = S3Storage(
        "multipart",
        endpoint_url=s3_endpoint.url,
        access_key_id="testing",
        secret_access_key="testing",
        create_bucket=True,
        multipart_threshold=5 * 1024 * 1024,
    )
    data = os.urandom(11 * 1024 * 1024)
    store.put("renditions/big.bin", data)
    assert store.get("renditions/big.bin") == data
    head = store._client.head_object(Bucket="multipart", Key="renditions/big.bin")
    assert "-" in head["ETag"]  # multipart ETags are "<md5 of md5s>-<parts>"


def test_keys_live_under_the_session_prefix() -> None:
    from cloud.storage.keys import checkpoint_key, rendition_key, session_prefix

    assert (
        checkpoint_key("s1", 7, "last.safetensors") == "sessions/s1/checkpoints/7/last.safetensors"
    )
    assert rendition_key("s1", "video.mp4").startswith(session_prefix("s1"))
    for bad in ("../x", "a/b", "..", ".hidden", ""):
        with pytest.raises(StorageKeyError):
            rendition_key("s1", bad)
    with pytest.raises(IdentifierError):
        rendition_key("../s1", "video.mp4")
