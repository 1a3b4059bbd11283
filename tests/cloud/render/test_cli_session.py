"""``dancebooth render SESSION --dance NAME``: clip from the database + store, MP4 back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from cloud.db.engine import make_engine, upgrade_database
from cloud.render.inputs import rendition_key
from cloud.render.video import probe
from cloud.storage.local import LocalStorage
from cloud.training.checkpoint import save_checkpoint
from cloud.training.config import Pix2PixConfig
from cloud.training.model import Pix2Pix
from common.reference import load_reference
from dancebooth.cli import cli
from edge.synthetic.visitor import make_visitor
from tests.cloud.ingest.conftest import frame_message, make_rig, packet
from tests.cloud.render.skeletons import walk


@pytest.fixture
def booth(tmp_path: Path) -> Path:
    """A SQLite database + local store holding session s-42 (4 s of a synthetic visitor)."""
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    upgrade_database(url)
    engine = make_engine(url)
    rig = make_rig(engine, LocalStorage(tmp_path / "store"))
    kps = make_visitor(2).keypoints(640, 480, 25.0, 4.0)
    messages = []
    for seq, k in enumerate(kps):
        p = packet(seq, session="s-42", node="cam1", size=500)
        p.keypoints = k
        messages.append(frame_message(p))
    rig.ingestor.handle(messages)
    engine.dispose()
    config = tmp_path / "cloud.yaml"
    config.write_text(
        f"database:\n  url: {url}\nstorage:\n  type: local\n  root: {tmp_path / 'store'}\n"
    )
    return config


def test_renders_a_session_and_stores_the_rendition(booth: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["render", "s-42", "--dance", "wave-party", "-c", str(booth)])
    assert result.exit_code == 0, result.output
    key = rendition_key("s-42", "wave-party")
    assert f"stored as {key}" in result.output
    store = LocalStorage(tmp_path / "store")
    out = tmp_path / "fetched.mp4"
    out.write_bytes(store.get(key))
    info = probe(out)
    ref = load_reference("wave-party")
    cards = round(1.5 * ref.fps) + round(1.0 * ref.fps)  # intro and outro
    assert info.frames == len(ref.keypoints) + cards
    assert info.height >= 480  # the session's camera, at least 480 rows
    assert "note: no clean plate" in result.output  # and the rendition says so
    assert info.fps == pytest.approx(ref.fps)
    assert info.audio_codec == "aac"
    assert info.tags["session_id"] == "s-42" and info.tags["dance"] == "wave-party"


def test_unknown_session_or_dance_is_a_clear_error(booth: Path) -> None:
    result = CliRunner().invoke(cli, ["render", "s-99", "--dance", "wave-party", "-c", str(booth)])
    assert result.exit_code != 0 and "no stored frames" in result.output
    result = CliRunner().invoke(cli, ["render", "s-42", "--dance", "tango", "-c", str(booth)])
    assert result.exit_code != 0 and "cannot render" in result.output


def test_a_checkpoint_renders_and_is_gated(tmp_path: Path) -> None:
    cfg = Pix2PixConfig(resolution=128, ngf=8, max_channels=32, ndf=8)
    ckpt = tmp_path / "visitor.safetensors"
    save_checkpoint(ckpt, Pix2Pix.from_config(cfg), state={"held_out": {"region_ssim": 0.2}})
    n = 16
    np.save(tmp_path / "vis.npy", walk(np.full(n, 320.0), np.full(n, 400.0), np.full(n, 300.0)))
    np.save(
        tmp_path / "ref.npy", walk(np.linspace(200, 300, n), np.full(n, 300.0), np.full(n, 200.0))
    )
    args = [
        "render",
        "--visitor-keypoints",
        str(tmp_path / "vis.npy"),
        "--capture-size",
        "640x480",
        "--reference-keypoints",
        str(tmp_path / "ref.npy"),
        "--fps",
        "25",
        "--checkpoint",
        str(ckpt),
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "r.mp4"),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "needs_review" in result.output and "SSIM 0.200" in result.output
    info = probe(tmp_path / "r.mp4")
    assert info.frames == n + round(1.5 * 25) + 25  # and the intro and outro cards
    assert (info.width, info.height) == (640, 480)  # the camera's size, not the model's
    assert info.tags["model_version"].startswith("pix2pix-128-")
