"""``dancebooth demo --once`` end to end: a synthetic visitor registers, dances, gets an
email whose link plays the rendition; plus the demo's own small parts."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import av
import httpx
import pytest
from click.testing import CliRunner

from cloud.delivery.mailer import OutboxMailer
from cloud.delivery.message import RenditionEmail, compose
from cloud.mqtt.broker import free_port
from cloud.render.card import Cards
from cloud.render.credentials import read_credentials
from cloud.settings import RenderSettings
from common.reference import load_reference
from dancebooth.cli import cli
from dancebooth.demo_booth import (
    DemoBooth,
    DemoError,
    DemoOptions,
    VisitorRoster,
    booth_checkpoint,
    edge_settings,
    port_or_free,
)
from dancebooth.demo_drive import find_link
from edge.settings import EdgeSettings
from tests.services import REPO

BUDGET_S = 25
CAPTURE_S = 6


def test_a_taken_port_falls_back_to_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = port_or_free(port)
    assert other not in (port, 0)
    assert port_or_free(0) != 0


def test_a_resolution_without_a_checkpoint_says_how_to_build_one(tmp_path: Path) -> None:
    assert booth_checkpoint(128).is_file()
    missing = [r for r in (256, 512) if not (REPO / "models" / f"booth-{r}.safetensors").exists()]
    if not missing:
        pytest.skip("every booth checkpoint exists here")
    with pytest.raises(DemoError, match="train-base"):
        booth_checkpoint(missing[0])
    result = CliRunner().invoke(
        cli, ["demo", "--once", "--resolution", str(missing[0]), "--dir", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"no booth checkpoint for {missing[0]} px" in result.output
    assert DemoOptions().resolution == 128


def test_a_directory_the_demo_did_not_make_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "precious.tar").write_bytes(b"a real booth's shard")
    result = CliRunner().invoke(cli, ["demo", "--once", "--dir", str(tmp_path)])
    assert result.exit_code == 1 and "pick another --dir" in result.output
    assert (tmp_path / "store" / "precious.tar").read_bytes() == b"a real booth's shard"
    demo_dir = tmp_path / "demo"
    DemoBooth(DemoOptions(directory=demo_dir)).prepare()
    (demo_dir / "store").mkdir()
    (demo_dir / "notes.txt").write_text("kept")
    DemoBooth(DemoOptions(directory=demo_dir)).prepare()  # a demo directory: reset
    assert not (demo_dir / "store").exists() and (demo_dir / "notes.txt").exists()


def test_an_unknown_dance_is_refused_before_anyone_dances(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--once", "--dance", "tango", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "--dance tango" in result.output and "disco-steps" in result.output


def test_the_link_is_found_in_the_visitors_email(tmp_path: Path) -> None:
    url = "http://127.0.0.1:8123"
    outbox = OutboxMailer(tmp_path)
    expires = datetime.now(UTC) + timedelta(days=30)
    for sid, to, token in [
        ("s1", "ben@example.com", "OTHER_token"),
        ("s2", "ana@example.com", "abc-DEF_123"),
    ]:
        link = f"{url}/r/{token}"
        email = RenditionEmail(sid, to, link, expires, "disco-steps", f"{link}/delete")
        outbox.send(email.key, compose(email, "dancebooth <booth@localhost>").as_bytes())
    path, link = find_link(tmp_path, "ana@example.com", url)
    assert link == f"{url}/r/abc-DEF_123" and "ana@example.com" in path.read_text()
    with pytest.raises(DemoError, match=r"no email with a rendition link to eve@example\.com"):
        find_link(tmp_path, "eve@example.com", url)


def test_a_stage_that_takes_too_long_fails_with_a_clear_message(tmp_path: Path) -> None:
    # One second is not enough to upload a capture: exit 1, and say what to do.
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "--once",
            "--timeout",
            "1",
            "--capture",
            "1",
            "--dir",
            str(tmp_path),
            "--port",
            "0",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "timed out waiting for" in result.output and "--timeout" in result.output


def test_every_node_films_the_visitor_standing_there_now(tmp_path: Path) -> None:
    roster = VisitorRoster()
    opts = DemoOptions(directory=tmp_path, capture_width=64, capture_height=64)
    left, right = (edge_settings(opts, n, i, 1883) for i, n in enumerate(("cam-left", "cam-right")))
    assert left.pose.type == right.pose.type == "replay"
    assert left.pose.seed != right.pose.seed, "each camera's estimator errs its own way"

    def first_frame(settings: EdgeSettings) -> bytes:
        source = roster.source_factory(settings)(30.0, 0.2)
        source.open()
        try:
            frame = source.read()
            assert frame is not None and frame.image.shape[:2] == (64, 64)
            return bytes(frame.image.tobytes())
        finally:
            source.close()

    roster.seed = 1
    visitor1 = first_frame(left)
    assert first_frame(right) == visitor1, "both cameras film the same visitor"
    roster.seed = 2
    visitor2 = first_frame(left)
    assert first_frame(right) == visitor2 and visitor2 != visitor1, "the next visitor differs"


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            out, _ = proc.communicate()
            pytest.fail(f"demo exited with {proc.returncode} before delivering:\n{out[-4000:]}")
        if time.monotonic() > deadline:
            proc.send_signal(signal.SIGINT)
            out = _stopped_output(proc, 60)
            pytest.fail(f"no delivery within {timeout} s:\n{out[-4000:]}")
        time.sleep(0.5)


@pytest.mark.slow
def test_demo_once_delivers_a_playable_video_and_a_working_link(tmp_path: Path) -> None:
    port = free_port()
    args = [
        "--once",
        "--hold",
        "120",
        "--budget",
        str(BUDGET_S),
        "--capture",
        str(CAPTURE_S),
        "--visitors",
        "1",
        "--dir",
        str(tmp_path / "demo"),
        "--port",
        str(port),
        "--timeout",
        "300",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "120"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dancebooth", "demo", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_hear_ctrl_c,
    )
    try:
        summary = tmp_path / "demo" / "deliveries.json"
        _wait_for(summary, proc, 330)
        (delivery,) = json.loads(summary.read_text())
        _check_video(Path(delivery["video"]), delivery["session_id"])
        assert "email" not in delivery and "link" not in delivery  # they live in the eml
        link = _link_in(Path(delivery["eml"]), port)
        _check_email_and_link(Path(delivery["eml"]), link, port, Path(delivery["video"]))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # Ctrl-C: stops the booth cleanly
        out = _stopped_output(proc, 60)
    assert proc.returncode == 0, out[-4000:]
    assert link in out.replace("\n", "")
    assert "first delivery" in out and "frames uploaded" in out
    assert "live mirror of cam-left on http://127.0.0.1:" in out.replace("\n", "")


def _hear_ctrl_c() -> None:
    """In the demo's process before it starts: Ctrl-C as in a terminal. A test run started
    in the background (`cmd &` without job control, nohup) ignores SIGINT, its children
    inherit that, and Python then never turns SIGINT into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stopped_output(proc: subprocess.Popen[str], timeout: float) -> str:
    """The demo's output once it has stopped; if it hangs, every thread's stack (the demo
    dumps them on SIGUSR1), then it is killed and the test fails with them."""
    try:
        out, _ = proc.communicate(timeout=timeout)
        return out
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)
        time.sleep(2)
        proc.kill()
        out, _ = proc.communicate(timeout=30)
        pytest.fail(f"the demo did not stop within {timeout:g} s of Ctrl-C:\n{out[-12000:]}")


def _check_video(path: Path, session_id: str) -> None:
    dance = load_reference("disco-steps")  # the first reference dance, the default
    with av.open(str(path)) as container:
        meta = container.metadata
        (video,) = container.streams.video
        assert container.streams.audio, "the rendition carries the dance's music"
        frames = sum(1 for _ in container.decode(video=0))
        # Put back at the camera's resolution, at least render.min_height rows.
        assert video.codec_context.height >= RenderSettings().min_height
        assert float(video.average_rate or 0) == pytest.approx(dance.fps, rel=0.01)
    r, cards = RenderSettings(), Cards("")
    intro, outro = cards.frames(r.intro_s, dance.fps), cards.frames(r.outro_s, dance.fps)
    assert frames == intro + len(dance.keypoints) + outro
    assert meta["synthetic"] == "true" and meta["ai_generated"] == "true"
    creds = read_credentials(path)  # signed by the demo's own private CA
    assert creds.state == "valid" and creds.ai_generated and creds.capture_session == session_id
    assert meta["session_id"] == session_id and meta["dance"] == "disco-steps"


def _link_in(eml: Path, port: int) -> str:
    match = re.search(rf"http://127\.0\.0\.1:{port}/r/[A-Za-z0-9_-]+", eml.read_text())
    assert match, eml.read_text()
    return match.group(0)


def _check_email_and_link(eml: Path, link: str, port: int, video: Path) -> None:
    msg = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert "visitor1@example.com" in str(msg["To"])
    assert link.startswith(f"http://127.0.0.1:{port}/r/") and link in eml.read_text()
    with httpx.Client(timeout=30) as http:
        page = http.get(link)
        assert page.status_code == 200 and "video.mp4" in page.text
        part = http.get(f"{link}/video.mp4", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and len(part.content) == 100
        assert part.headers["content-range"] == f"bytes 0-99/{video.stat().st_size}"
        assert part.content[4:8] == b"ftyp"
        whole = http.get(f"{link}/video.mp4")
        assert whole.status_code == 200 and whole.content == video.read_bytes()
        assert http.get(link[:-4] + "xxxx").status_code in (404, 410)
