"""``dancebooth edge run`` through the real command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dancebooth.cli import cli
from tests.edge.collector import Collector
from tests.edge.helpers import write_video
from tests.services import Mosquitto


def _config(tmp_path: Path, broker_port: int, **extra: object) -> Path:
    data: dict[str, object] = {
        "mqtt": {"host": "127.0.0.1", "port": broker_port},
        "spool": {"path": str(tmp_path / "spool")},
        "publisher": {"connect_timeout_s": 3},
    }
    data.update(extra)
    path = tmp_path / "node.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_rejects_a_misspelt_setting(tmp_path: Path) -> None:
    config = _config(tmp_path, 1883, capture={"fsp": 30})
    result = CliRunner().invoke(cli, ["edge", "run", "-c", str(config)])
    assert result.exit_code != 0
    assert "capture.fsp" in result.output


def test_run_names_an_unusable_pose_backend(tmp_path: Path) -> None:
    config = _config(tmp_path, 1883, pose={"type": "movenet", "model_path": "absent.tflite"})
    result = CliRunner().invoke(cli, ["edge", "run", "-c", str(config)])
    assert result.exit_code != 0
    assert "movenet" in result.output or "absent.tflite" in result.output


@pytest.mark.services
def test_run_captures_a_video_standalone_and_exits_when_sent(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    video = write_video(tmp_path / "clip.avi", 60)
    config = _config(
        tmp_path,
        mosquitto.port,
        source={"type": "video", "path": str(video), "realtime": False},
        pose={"type": "replay"},
        capture={"width": 64, "height": 48, "fps": 30},
    )
    collector = Collector(mosquitto.host, mosquitto.port)
    try:
        args = ["edge", "run", "-c", str(config), "--capture", "1", "--session", "scli"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert "all frames and manifests acknowledged" in result.output
        assert collector.wait_for(lambda: collector.complete("scli"), 10)
    finally:
        collector.close()
    assert collector.manifests[("scli", "node1")].frame_count == 30
