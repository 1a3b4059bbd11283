"""The ingest status views and ``dancebooth cloud status``."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from cloud.cli import cloud
from cloud.db.engine import make_engine, upgrade_database
from cloud.ingest import status
from cloud.ingest.ingestor import Incoming
from cloud.storage.local import LocalStorage
from protocol.messages import NodeState, NodeStats, NodeStatus
from tests.cloud.ingest.conftest import BOOTH, TOPICS, Rig, frame_message, make_rig, packet
from tests.cloud.ingest.test_manifests import manifest


def _traffic(rig: Rig) -> None:
    node_status = NodeStatus(
        node="node1",
        state=NodeState.CAPTURING,
        at=5.0,
        session="s1",
        stats=NodeStats(capture_fps=30, dropped_frames=2, unmasked_frames=3),
    )
    rig.ingestor.handle(
        [
            *(frame_message(packet(s)) for s in range(7)),
            manifest("node1", 9),
            Incoming(TOPICS.status(BOOTH, "node1"), node_status.to_bytes()),
            Incoming(TOPICS.frames(BOOTH, "node1", "s1"), b"junk"),
        ]
    )


def test_views_show_progress_nodes_and_dead_letters(rig: Rig) -> None:
    _traffic(rig)
    with rig.factory() as db:
        [node] = status.nodes(db)
        [session] = status.recent_sessions(db)
        total, latest = status.dead_letters(db)
    assert (node.node, node.state, node.session, node.capture_fps, node.dropped) == (
        "node1",
        "capturing",
        "s1",
        30.0,
        2,
    )
    assert node.unmasked == 3
    assert (session.state, session.frames, session.expected) == (
        "capturing",
        {"node1": 7},
        {"node1": 10},
    )
    assert total == 1 and "shorter than a header" in latest[0].reason


def test_status_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    engine = make_engine(url)
    _traffic(make_rig(engine, LocalStorage(tmp_path / "store")))
    engine.dispose()
    config = tmp_path / "cloud.yaml"
    config.write_text(yaml.safe_dump({"database": {"url": url}}))
    result = CliRunner().invoke(cloud, ["status", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "node1 7/10" in result.output and "dead letters: 1" in result.output
    assert "no mask" in result.output
