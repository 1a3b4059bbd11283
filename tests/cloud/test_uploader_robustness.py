"""The uploader under abuse: 10,000 generated bad payloads, a SIGKILL mid-session, and a
10,000-packet backlog of 40 KB frames through the project's Mosquitto config."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from cloud.db.models import DeadLetter
from cloud.db.states import SessionState
from cloud.ingest.reader import iter_session_frames
from protocol.codec import HEADER_BYTES, encode_packet
from tests.cloud.test_uploader import Running, cloud_settings
from tests.cloud.traffic import BOOTH, TOPICS, Publisher, manifest_for, packet, wait_for
from tests.services import REPO, Mosquitto

N_BAD = 10_000
VALID = encode_packet(packet(0, size=300))
FRAMES_TOPIC = TOPICS.frames(BOOTH, "node1", "s1")


def _flip(data: bytes, i: int, bit: int) -> bytes:
    out = bytearray(data)
    out[i % len(out)] ^= 1 << bit
    return bytes(out)


def _bad_keypoints(values: list[float]) -> bytes:
    body = bytearray(VALID[:-4])
    offset = HEADER_BYTES + len(b"s1") + len(b"node1")
    struct.pack_into("<3f", body, offset, *values)
    return bytes(body) + struct.pack("<I", zlib.crc32(body))  # a valid checksum: bad content


bad_frames = st.one_of(
    st.binary(max_size=3000),
    st.builds(_flip, st.just(VALID), st.integers(0, len(VALID) - 1), st.integers(0, 7)),
    st.integers(0, len(VALID) - 1).map(lambda k: VALID[:k]),
    st.binary(min_size=1, max_size=50).map(lambda extra: VALID + extra),
    st.lists(
        st.sampled_from([float("nan"), float("inf"), -1e9, 2.0, -0.5]), min_size=3, max_size=3
    ).map(_bad_keypoints),
).map(lambda payload: (FRAMES_TOPIC, payload))
bad_json = st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.integers(), st.text(max_size=12), st.floats(), st.none()),
    max_size=5,
).map(lambda d: yaml.safe_dump(d).encode())  # YAML of a dict: JSON-ish or not JSON at all
bad_messages = st.one_of(
    bad_frames,
    st.tuples(st.just(TOPICS.manifest(BOOTH, "node1", "s1")), st.one_of(bad_json, st.binary())),
    st.tuples(st.just(TOPICS.status(BOOTH, "node1")), st.binary(min_size=1, max_size=500)),
    st.just((TOPICS.frames(BOOTH, "node2", "s1"), VALID)),  # node1's packet on node2's topic
)


@pytest.mark.slow
def test_ten_thousand_bad_payloads_are_dead_lettered_and_the_uploader_serves_on(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    r = Running(cloud_settings(tmp_path, mosquitto.port, batch_seconds=0.2))
    pub = Publisher(mosquitto.host, mosquitto.port)
    sent: list[int] = []

    @settings(
        max_examples=N_BAD,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(bad_messages)
    def publish_bad(message: tuple[str, bytes]) -> None:
        pub.publish(*message)
        sent.append(len(message[1]))

    with r.uploader:
        publish_bad()
        pub.flush()

        def dead() -> int:
            with r.factory() as db:
                return int(db.scalar(select(func.count()).select_from(DeadLetter)) or 0)

        wait_for(lambda: dead() >= len(sent), timeout=120, what="every payload dead-lettered")
        assert dead() == len(sent) >= N_BAD
        assert r.uploader.stats.stored == 0
        pub.frames(packet(s) for s in range(10))  # still serving
        pub.manifest(manifest_for("s1", "node1", 10))
        pub.flush()
        wait_for(lambda: r.state() is SessionState.QUEUED, what="valid session after the abuse")
    pub.close()
    assert r.frames() == 10


def _start_uploader(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "dancebooth",
        "cloud",
        "uploader",
        "-c",
        str(config),
        "--stats-every",
        "0.5",
    ]
    return subprocess.Popen(cmd, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.mark.slow
def test_uploader_killed_mid_session_and_restarted_loses_nothing(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    settings_ = cloud_settings(tmp_path, mosquitto.port, client_id="uploader-kill-test")
    config = tmp_path / "cloud.yaml"
    config.write_text(yaml.safe_dump(settings_.model_dump(mode="json", exclude={"mail"})))
    probe = Running(settings_)  # migrates; reads the database the subprocess writes
    log = tmp_path / "uploader.log"
    proc = _start_uploader(config, log)
    wait_for(lambda: b"running" in log.read_bytes(), what="uploader start")
    total = 1500
    pub = Publisher(mosquitto.host, mosquitto.port)
    sender = threading.Thread(
        target=lambda: (pub.frames(packet(s) for s in range(total)), pub.flush())
    )
    sender.start()
    wait_for(lambda: probe.frames() > 100, what="frames stored before the kill")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = probe.frames()
    sender.join()
    assert killed_at < total, "the uploader finished before it could be killed"
    proc = _start_uploader(config, log)
    try:
        pub.manifest(manifest_for("s1", "node1", total))
        pub.flush()
        wait_for(lambda: probe.state() is SessionState.QUEUED, timeout=60, what="completion")
    finally:
        proc.terminate()
        proc.wait(10)
    pub.close()
    seqs = [m.seq for m, _ in iter_session_frames(probe.storage, probe.factory, "s1")]
    assert seqs == list(range(total))
    assert probe.frames() == total
    probe.engine.dispose()


@pytest.mark.slow
def test_ten_thousand_40kb_packets_queued_for_an_offline_uploader_all_arrive(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # Debian's default (max_queued_messages 1000) would drop 9,000 of these silently.
    r = Running(
        cloud_settings(
            tmp_path,
            mosquitto.port,
            client_id="uploader-backlog",
            batch_frames=1000,
            batch_seconds=0.5,
        )
    )
    r.uploader.start()
    r.uploader.stop()  # its persistent session stays subscribed
    pub = Publisher(mosquitto.host, mosquitto.port)
    total = 10_000
    for start in range(0, total, 1000):
        pub.frames(packet(s, size=40_000) for s in range(start, start + 1000))
        pub.flush(timeout=120)
    pub.manifest(manifest_for("s1", "node1", total))
    pub.flush()
    pub.close()
    from cloud.ingest.uploader import Uploader

    r.uploader = Uploader(r.uploader.settings, r.storage, r.engine)
    with r.uploader:
        wait_for(lambda: r.state() is SessionState.QUEUED, timeout=300, what="10,000 frames")
    assert r.frames() == total
    assert r.uploader.stats.stored == total  # all came from the broker's queue, none lost
    r.engine.dispose()


@pytest.mark.slow
def test_control_debian_default_queue_limit_drops_the_backlog(tmp_path: Path) -> None:
    """The control for the test above: with Debian's default limit the same kind of
    backlog loses frames, so the project config is what keeps them."""
    from tests.services import run_mosquitto

    total = 2000
    with run_mosquitto("max_queued_messages 1000\n") as broker:
        r = Running(cloud_settings(tmp_path, broker.port, client_id="uploader-control"))
        r.uploader.start()
        r.uploader.stop()
        pub = Publisher(broker.host, broker.port)
        pub.frames(packet(s, size=1000) for s in range(total))
        pub.flush()
        pub.close()
        from cloud.ingest.uploader import Uploader

        r.uploader = Uploader(r.uploader.settings, r.storage, r.engine)
        with r.uploader:
            wait_for(lambda: r.frames() >= 1000, what="the queued part")
            time.sleep(1.0)
        assert 1000 <= r.frames() < total
        r.engine.dispose()
