from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from cloud.training.checkpoint import load_checkpoint
from dancebooth.cli import cli
from tests.cloud.training.dancer import write_session


def _corpus(root: Path) -> Path:
    entries = []
    for i in range(2):
        write_session(root, f"staff{i}", frames=10, palette=10 + i)
        entries.append({"session": f"staff{i}", "role": "staff"})
    write_session(root, "visitor0", frames=10, palette=42)
    entries.append({"session": "visitor0", "role": "visitor"})
    (root / "corpus.json").write_text(json.dumps({"sessions": entries}))
    return root


def test_train_base_then_finetune_then_info(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    booth = tmp_path / "models" / "booth-128.safetensors"
    runner = CliRunner()
    res = runner.invoke(
        cli,
        [
            "model",
            "train-base",
            "--corpus",
            str(corpus),
            "--out",
            str(booth),
            "--ngf",
            "8",
            "--budget",
            "60",
            "--max-steps",
            "3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "2 sessions" in res.output
    card = booth.with_suffix(".md").read_text()
    ckpt = load_checkpoint(booth)
    assert ckpt.sha256 in card and "held-out SSIM" in card
    manifest = json.loads((booth.parent / "manifest.json").read_text())
    assert manifest["checkpoints"][0]["sha256"] == ckpt.sha256
    assert manifest["models"] == []  # the pose backends' list is left alone
    assert ckpt.state["data"]["sessions"] == 2  # visitors are not in the booth checkpoint

    grid = tmp_path / "grid.png"
    res = runner.invoke(
        cli,
        [
            "model",
            "finetune",
            str(corpus / "sessions" / "visitor0"),
            "--booth",
            str(booth),
            "--work-dir",
            str(tmp_path / "job"),
            "--max-steps",
            "2",
            "--grid",
            str(grid),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "steps 0->2" in res.output and grid.stat().st_size > 1000

    res = runner.invoke(cli, ["model", "info", str(booth)])
    assert res.exit_code == 0 and json.loads(res.output)["config"]["ngf"] == 8


def test_bad_inputs_fail_with_a_message(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage" * 10)
    res = runner.invoke(cli, ["model", "info", str(bad)])
    assert res.exit_code == 1 and "corrupt" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = runner.invoke(cli, ["model", "finetune", str(empty), "--work-dir", str(tmp_path / "j")])
    assert res.exit_code == 1 and "no .tar shards" in res.output
    out = ["--out", str(tmp_path / "booth.safetensors")]
    res = runner.invoke(cli, ["model", "train-base", "--corpus", str(empty), *out])
    assert res.exit_code == 1 and "corpus.json" in res.output


def test_train_base_keeps_an_existing_checkpoint_unless_told(tmp_path: Path) -> None:
    from cloud.training.base import DEFAULT_BOOTH_CHECKPOINT
    from cloud.training.checkpoint import file_sha256

    committed = file_sha256(DEFAULT_BOOTH_CHECKPOINT)
    empty = tmp_path / "empty"
    empty.mkdir()
    runner = CliRunner()
    res = runner.invoke(cli, ["model", "train-base", "--corpus", str(empty)])
    assert res.exit_code == 1 and "--overwrite" in res.output, res.output
    assert file_sha256(DEFAULT_BOOTH_CHECKPOINT) == committed
    mine = tmp_path / "booth.safetensors"
    mine.write_bytes(b"an earlier run")
    args = ["model", "train-base", "--corpus", str(empty), "--out", str(mine)]
    res = runner.invoke(cli, args)
    assert res.exit_code == 1 and "exists" in res.output
    res = runner.invoke(cli, [*args, "--overwrite"])  # goes on, to the empty corpus
    assert res.exit_code == 1 and "corpus.json" in res.output


def test_bench_train_scores_the_visitor_in_a_new_dance(tmp_path: Path) -> None:
    from cloud.training.checkpoint import save_checkpoint
    from cloud.training.model import Pix2Pix
    from edge.synthetic.corpus import write_corpus
    from tests.cloud.training.conftest import TINY

    corpus = tmp_path / "corpus"
    write_corpus(corpus, staff=0, visitors=1, resolution=128, fps=4, duration_s=3)
    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(TINY))
    args = ["bench", "train", "--corpus", str(corpus), "--booth", str(booth)]
    args += ["--part", "quality", "--visitors", "1", "--budget", "4"]
    args += ["--grid", str(tmp_path / "grid.png"), "--plot", str(tmp_path / "curves.png")]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "held-out frames of the visitor's own clip" in res.output
    assert "the visitor in a dance their clip never showed" in res.output
    assert res.output.count("| visitor-0000 |") == 2
    assert "transfer dancer SSIM at budget: " in res.output
    assert "warm - scratch on transfer: smallest lead" in res.output
    assert res.output.count("load average") >= 2
    assert (tmp_path / "grid.png").stat().st_size > 0 and (tmp_path / "curves.png").exists()


def test_bench_train_capacity_interleaves_variants_at_equal_wall_clock(tmp_path: Path) -> None:
    from edge.synthetic.corpus import write_corpus

    corpus = tmp_path / "corpus"
    write_corpus(corpus, staff=0, visitors=2, resolution=128, fps=4, duration_s=3)
    args = ["bench", "train", "--corpus", str(corpus), "--part", "capacity", "--visitors", "2"]
    args += ["--variants", "8x128,8x128+aug-mask", "--marks", "1,2", "--score-resolution", "128"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if " | ngf 8" in ln and "load average" in ln]
    # Visitor 0 runs the variants in order, visitor 1 starts with the second.
    assert [ln.split(" | ")[1].split(":")[0] for ln in lines] == [
        "ngf 8, 128 px, aug off, mask",
        "ngf 8, 128 px, aug on, full frame",
        "ngf 8, 128 px, aug on, full frame",
        "ngf 8, 128 px, aug off, mask",
    ]
    assert "| ngf 8, 128 px, aug on, full frame | **" in res.output


def test_bench_train_counts_flops_and_times_both_loops_on_the_cpu(tmp_path: Path) -> None:
    from edge.synthetic.corpus import write_corpus

    res = CliRunner().invoke(cli, ["bench", "train", "--part", "flops", "--resolutions", "128"])
    assert res.exit_code == 0, res.output
    assert "| 128 px | 16 | 1.6M / 0.18M | 6.6 |" in res.output
    corpus = tmp_path / "corpus"
    write_corpus(corpus, staff=0, visitors=1, resolution=128, fps=4, duration_s=2)
    args = ["bench", "train", "--corpus", str(corpus), "--part", "throughput", "--device", "cpu"]
    args += ["--resolutions", "128", "--steps", "1", "--rounds", "1", "--ngf", "8"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "throughput on cpu (CPU)" in res.output and "| 128 px | 32-true |" in res.output
    res = CliRunner().invoke(cli, ["bench", "train", "--part", "throughput"])
    assert res.exit_code == 2 and "--corpus is required" in res.output
