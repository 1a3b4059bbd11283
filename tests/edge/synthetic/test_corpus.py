"""The corpus: shards in the protocol format, readable by the one reader, with an index."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from dancebooth.cli import cli
from edge.synthetic.corpus import load_corpus, write_corpus
from protocol.shards import read_shard, shard_key


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    seen: list[int] = []
    write_corpus(
        out,
        staff=2,
        visitors=1,
        resolution=128,
        fps=10,
        duration_s=1.5,
        keypoints="noisy",
        progress=seen.append,
    )
    assert sum(seen) == 4 * 15  # 2 staff, 1 visitor and the visitor's transfer dance
    return out


def test_index_lists_staff_and_held_out_visitors(corpus_dir: Path) -> None:
    index = json.loads((corpus_dir / "corpus.json").read_text())
    assert index["keypoints"] == "noisy" and index["noise"]["jitter"] > 0
    roles = [(s["session"], s["role"]) for s in index["sessions"]]
    assert roles == [
        ("staff-0000", "staff"),
        ("staff-0001", "staff"),
        ("visitor-0000", "visitor"),
        ("visitor-0000-transfer", "transfer"),
    ]
    seeds = {s["role"]: s["seed"] for s in index["sessions"]}
    assert seeds["staff"] != seeds["visitor"] == seeds["transfer"]
    c = load_corpus(corpus_dir)
    assert [s.session for s in c.by_role("visitor")] == ["visitor-0000"]
    assert c.sessions[0].shard == shard_key("staff-0000", "node1", 0)


def test_shards_read_back_with_truth_jpegs_and_noisy_keypoints(corpus_dir: Path) -> None:
    c = load_corpus(corpus_dir)
    for s in c.sessions:
        frames = list(read_shard(c.shard_path(s)))
        assert [m.seq for m, *_ in frames] == list(range(15)) == list(range(s.frames))
        meta, jpeg, _ = frames[7]
        assert (meta.session, meta.node, meta.width, meta.height) == (s.session, "node1", 128, 128)
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (128, 128, 3)
        assert meta.truth is not None and len(meta.extras) == 4
        truth, kps = np.asarray(meta.truth), meta.keypoints_array()
        assert not np.array_equal(truth, kps)  # noisy keypoints, truth kept beside them
        assert np.median(np.abs(truth[:, :2] - kps[:, :2])) < 5


def test_transfer_session_is_the_visitor_in_a_new_dance(corpus_dir: Path) -> None:
    c = load_corpus(corpus_dir)
    own, transfer = (list(read_shard(c.shard_path(s))) for s in c.sessions[2:])

    # Same body: the same bone lengths; another dance: other poses.
    def limb(meta: object) -> float:
        t = np.asarray(meta.truth)  # type: ignore[attr-defined]
        return float(np.hypot(*(t[13, :2] - t[15, :2])))  # left knee to left ankle

    assert limb(own[0][0]) == pytest.approx(limb(transfer[0][0]), rel=0.15)
    poses = (
        [np.asarray(m.truth)[:17, :2] for m, *_ in own],
        [np.asarray(m.truth)[:17, :2] for m, *_ in transfer],
    )
    assert not np.allclose(np.stack(poses[0]), np.stack(poses[1]), atol=2.0)


def test_truth_corpus_is_deterministic(tmp_path: Path) -> None:
    def shard_bytes(out: Path) -> bytes:
        c = write_corpus(out, staff=0, visitors=1, resolution=128, fps=5, duration_s=1)
        meta, *_ = next(read_shard(c.shard_path(c.sessions[0])))
        assert meta.keypoints == meta.truth
        return c.shard_path(c.sessions[0]).read_bytes()

    assert shard_bytes(tmp_path / "a") == shard_bytes(tmp_path / "b")


def test_bad_requests_and_broken_index(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one"):
        write_corpus(tmp_path, staff=0, visitors=0)
    with pytest.raises(ValueError, match="keypoints"):
        write_corpus(tmp_path, staff=1, visitors=0, keypoints="guess")  # type: ignore[arg-type]
    (tmp_path / "corpus.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a readable corpus"):
        load_corpus(tmp_path)


def test_cli_corpus_and_contact_sheet(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "--staff",
        "1",
        "--visitors",
        "0",
        "--resolution",
        "128",
        "--fps",
        "4",
        "--duration",
        "1",
    ]
    res = runner.invoke(cli, ["synth", "corpus", *args, "--out", str(tmp_path / "c")])
    assert res.exit_code == 0, res.output
    assert load_corpus(tmp_path / "c").sessions[0].frames == 4
    sheet = tmp_path / "sheet.png"
    res = runner.invoke(
        cli,
        [
            "synth",
            "contact-sheet",
            str(sheet),
            "--visitors",
            "1",
            "--staff",
            "1",
            "--cols",
            "3",
            "--resolution",
            "128",
        ],
    )
    assert res.exit_code == 0, res.output
    img = cv2.imread(str(sheet))
    assert img.shape == (256, 384, 3)
    res = runner.invoke(
        cli,
        [
            "synth",
            "contact-sheet",
            str(sheet),
            "--visitors",
            "0",
            "--staff",
            "0",
            "--cols",
            "2",
            "--reference",
            "wave-party",
        ],
    )
    assert res.exit_code == 0, res.output
    assert cv2.imread(str(sheet)).shape == (192, 384, 3)
    res = runner.invoke(cli, ["synth", "contact-sheet", str(sheet), "--reference", "nope"])
    assert res.exit_code != 0 and "no reference dance" in res.output
    res = runner.invoke(
        cli, ["synth", "corpus", "--staff", "0", "--visitors", "0", "--out", str(tmp_path / "d")]
    )
    assert res.exit_code != 0 and "at least one" in res.output


def test_every_frame_has_the_renderers_exact_person_mask(corpus_dir: Path) -> None:
    c = load_corpus(corpus_dir)
    frames = list(read_shard(c.shard_path(c.sessions[0])))
    for meta, _jpeg, mask in frames:
        assert mask is not None and mask.shape == (128, 128)  # mask_shape of 128 x 128
        assert 0.03 < (mask > 127).mean() < 0.5
        truth = np.asarray(meta.truth)
        seen = truth[truth[:, 2] > 0, :2].round().astype(int).clip(0, 127)
        assert (mask[seen[:, 1], seen[:, 0]] > 0).mean() > 0.9  # visible joints are on the body
    # The mask is the person, not the background: pixels outside it match the empty
    # booth far more closely than pixels inside it differ from it.
    from edge.synthetic.background import background_plate

    plate = background_plate(128, 128, 0).astype(int)
    meta, jpeg, mask = frames[7]
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(int)
    diff = np.abs(img - plate).mean(axis=2)
    ring = cv2.dilate((mask > 0).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert diff[~ring].mean() < 6 < diff[mask == 255].mean()
