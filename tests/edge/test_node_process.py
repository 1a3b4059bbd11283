"""Node processes killed and restarted, and brokers that refuse them."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from edge.publisher import BrokerRefusedError, Publisher
from edge.settings import PublisherSettings
from edge.spool import Spool
from protocol.messages import CaptureStart, NodeState
from protocol.settings import MqttSettings
from protocol.topics import Command
from tests.edge.collector import Collector
from tests.services import REPO, Mosquitto, missing, run_mosquitto

pytestmark = pytest.mark.services


def _config(tmp_path: Path, broker: Mosquitto) -> Path:
    path = tmp_path / "node.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "mqtt": {"host": broker.host, "port": broker.port},
                "spool": {"path": str(tmp_path / "spool")},
                "publisher": {"stats_interval_s": 0.5, "reconnect_max_s": 1},
            }
        )
    )
    return path


def _node(config: Path, *args: str, pose_delay_s: float = 0.0) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NODE_MAIN_POSE_DELAY_S": str(pose_delay_s)}
    cmd = [sys.executable, "-m", "tests.edge.node_main", str(config), *args]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_node_killed_mid_capture_finishes_from_its_spool(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    collector = Collector(mosquitto.host, mosquitto.port)
    config = _config(tmp_path, mosquitto)
    try:
        first = _node(config, "--capture", "30", pose_delay_s=0.05)  # pose at 20 of 30 fps
        assert collector.wait_for(lambda: len(collector.seqs("skill")) >= 20, 30)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        # The broker publishes the last will when the connection drops.
        assert collector.wait_for(lambda: collector.statuses[-1].state is NodeState.OFFLINE, 10)
        spool = Spool(tmp_path / "spool")
        left = spool.depth()
        spooled = spool.counts()
        spool.close()
        assert left > 0 and ("skill", "node1") not in collector.manifests
        second = _node(config)  # --drain: recover, send, exit
        out, _ = second.communicate(timeout=60)
        assert second.returncode == 0, out.decode()
        assert collector.wait_for(lambda: collector.complete("skill"), 10)
    finally:
        collector.close()
    manifest = collector.manifests[("skill", "node1")]
    assert manifest.frame_count + len(manifest.dropped) == manifest.last_seq + 1
    assert manifest.frame_count >= 20
    assert collector.seqs("skill") >= manifest.expected_seqs()
    assert sum(spooled.values()) == manifest.frame_count
    assert not collector.conflicts


@pytest.fixture
def passwd() -> Iterator[str]:
    """A passwd file with node1:s3cret that the broker can read after dropping root."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        missing("mosquitto_passwd", "apt-get install mosquitto")
    directory = Path(tempfile.mkdtemp(prefix="dancebooth-passwd-"))
    directory.chmod(0o711)
    path = directory / "passwd"
    subprocess.run([str(tool), "-c", "-b", str(path), "node1", "s3cret"], check=True)
    path.chmod(0o600)
    if os.geteuid() == 0:  # mosquitto started as root runs as user "mosquitto"
        with contextlib.suppress(KeyError):
            os.chown(path, pwd.getpwnam("mosquitto").pw_uid, -1)
    yield str(path)
    shutil.rmtree(directory, ignore_errors=True)


def test_bad_credentials_are_refused_with_a_clear_error(tmp_path: Path, passwd: str) -> None:
    with run_mosquitto(f"password_file {passwd}\n", anonymous=False) as broker:
        spool = Spool(tmp_path / "spool")
        settings = PublisherSettings(connect_timeout_s=5)
        wrong = MqttSettings(host=broker.host, port=broker.port, username="node1", password="nope")  # type: ignore[arg-type]
        publisher = Publisher(wrong, settings, "booth1", "node1", spool)
        with pytest.raises(BrokerRefusedError, match=r"mqtt\.username / mqtt\.password"):
            publisher.start()
        anonymous = MqttSettings(host=broker.host, port=broker.port)
        with pytest.raises(
            BrokerRefusedError, match=r"node node1: .*refused client edge-booth1-node1"
        ):
            Publisher(anonymous, settings, "booth1", "node1", spool).start()
        right = MqttSettings(
            host=broker.host, port=broker.port, username="node1", password="s3cret"
        )  # type: ignore[arg-type]
        publisher = Publisher(right, settings, "booth1", "node1", spool)
        publisher.start()
        try:
            assert publisher.connected.wait(5)
        finally:
            publisher.stop()


def test_edge_run_reports_refused_credentials(tmp_path: Path, passwd: str) -> None:
    with run_mosquitto(f"password_file {passwd}\n", anonymous=False) as broker:
        config = tmp_path / "node.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "mqtt": {
                        "host": broker.host,
                        "port": broker.port,
                        "username": "node1",
                        "password": "wrong",
                    },
                    "spool": {"path": str(tmp_path / "spool")},
                    "publisher": {"connect_timeout_s": 5},
                }
            )
        )
        proc = _node(config)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert b"node node1: " in out and b"refused client edge-booth1-node1" in out
    assert b"mqtt.password" in out


def _cli(config: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "dancebooth", "edge", "run", "-c", str(config), *args]
    return subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_edge_run_serves_a_capture_command_survives_sigkill_and_drains(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    config = tmp_path / "node.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "mqtt": {"host": mosquitto.host, "port": mosquitto.port},
                "spool": {"path": str(tmp_path / "spool")},
                "source": {"type": "synthetic", "seed": 3},
                "pose": {"type": "replay"},
                "capture": {"width": 320, "height": 240, "fps": 30},
                "publisher": {"stats_interval_s": 0.5, "reconnect_max_s": 1},
            }
        )
    )
    collector = Collector(mosquitto.host, mosquitto.port)
    node = _cli(config)
    try:
        online = lambda: any(s.state is NodeState.ONLINE for s in collector.statuses)  # noqa: E731
        assert collector.wait_for(online, 30), "the node never came online"
        start = CaptureStart(session="scmd", start_at=time.time() + 0.5, duration_s=20)
        topic = collector.topics.command("booth1", Command.CAPTURE)
        collector.client.publish(topic, start.to_bytes(), qos=1)
        assert collector.wait_for(lambda: len(collector.seqs("scmd")) >= 30, 30)
        node.send_signal(signal.SIGKILL)
        node.wait(10)
        assert collector.wait_for(lambda: collector.statuses[-1].state is NodeState.OFFLINE, 10)
        drain = _cli(config, "--drain")
        out, _ = drain.communicate(timeout=60)
        assert drain.returncode == 0, out.decode()
        assert collector.wait_for(lambda: collector.complete("scmd"), 10)
    finally:
        if node.poll() is None:
            node.kill()
        collector.close()
    manifest = collector.manifests[("scmd", "node1")]
    assert 30 <= manifest.frame_count < 600  # cut short by the kill
    assert collector.seqs("scmd") >= manifest.expected_seqs()
    packet = collector.frames[("scmd", "node1", 5)]
    assert packet.width == 320 and packet.people == 1 and packet.keypoints[:, 2].max() > 0.5
    assert not collector.conflicts


def test_edge_run_stops_cleanly_on_sigterm(mosquitto: Mosquitto, tmp_path: Path) -> None:
    config = _config(tmp_path, mosquitto)
    collector = Collector(mosquitto.host, mosquitto.port)
    try:
        node = _node(config, "--serve")
        online = lambda: any(s.state is NodeState.ONLINE for s in collector.statuses)  # noqa: E731
        assert collector.wait_for(online, 30)
        node.send_signal(signal.SIGTERM)
        out, _ = node.communicate(timeout=30)
        assert node.returncode == 0, out.decode()
        assert collector.wait_for(lambda: collector.statuses[-1].state is NodeState.OFFLINE, 5)
    finally:
        collector.close()
