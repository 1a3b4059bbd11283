from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cloud.training.checkpoint import load_checkpoint, save_checkpoint
from cloud.training.config import BOOTH_RECIPE, Augment, Pix2PixConfig, Recipe
from cloud.training.data import build_frameset
from cloud.training.errors import CheckpointError, TrainingError
from cloud.training.evaluation import evaluate
from cloud.training.finetune import FinetuneResult, finetune
from cloud.training.loop import Progress, RunOptions, TrainingRun
from cloud.training.model import Pix2Pix
from tests.cloud.training.dancer import write_session


def test_tiny_model_overfits_a_handful_of_frames(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    shard = write_session(tmp_path, "s1", frames=4)
    frames = build_frameset([shard], 128)
    torch.manual_seed(0)
    recipe = Recipe(lr=1e-3, augment=Augment(flip=False))
    model = Pix2Pix.from_config(tiny_config.with_recipe(recipe))
    losses: list[float] = []
    opts = RunOptions(budget_s=3600, max_steps=40, batch_size=4, eval_every_s=1e9, losses_every=1)
    run = TrainingRun(
        model,
        frames,
        frames,
        tmp_path / "run",
        opts,
        progress=lambda p: losses.append(p.losses.get("g_l1", float("nan"))),
    )
    before = run.evaluate()
    result = run.fit()
    assert result.steps == 40 and result.stopped == "max_steps"
    first, last = sum(losses[:5]) / 5, sum(losses[-6:-1]) / 5
    assert last < first * 0.7, (first, last)
    assert result.metrics["ssim"] > before["ssim"] + 0.05
    assert result.metrics["region_psnr"] > before["region_psnr"]


def test_killed_run_resumes_from_its_step_with_the_remaining_budget(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    shard = write_session(tmp_path, "s1", frames=12)
    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(tiny_config), half=True)
    work = tmp_path / "job"
    seen: list[Progress] = []

    def die_at_step_5(p: Progress) -> None:
        seen.append(p)
        if p.step == 5:
            raise RuntimeError("worker killed")

    # A budget far beyond 8 steps even on a loaded machine: the steps, not the clock, end it.
    opts = RunOptions(budget_s=900, max_steps=8, eval_every_steps=2, eval_every_s=1e9)
    with pytest.raises(RuntimeError, match="killed"):
        finetune(
            [shard], booth, 900, 8, work_dir=work, options=opts, progress_callback=die_at_step_5
        )
    saved = load_checkpoint(work / "last.safetensors")
    assert saved.step == 4 and saved.optimizers  # the last checkpoint before the kill
    spent = saved.state["elapsed_s"]
    assert spent > 0

    steps: list[int] = []
    result = finetune(
        [shard],
        booth,
        900,
        8,
        work_dir=work,
        options=opts,
        progress_callback=lambda p: steps.append(p.step),
    )
    assert result.run.start_step == 4 and steps[0] == 5
    assert result.run.steps == 8 and result.run.stopped == "max_steps"
    assert result.run.elapsed_s > spent  # the clock continued from the spent time
    assert [h["step"] for h in result.run.history][:2] == [2.0, 4.0]  # history kept

    # A budget already spent stops at once, without another step.
    again = finetune([shard], booth, spent, 100, work_dir=work, options=opts)
    assert again.run.steps == 8 and again.run.stopped == "budget"
    assert load_checkpoint(work / "last.safetensors").optimizers  # still resumable


def test_budget_stops_training(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    shard = write_session(tmp_path, "s1", frames=8)
    result = finetune(
        [shard],
        None,
        3.0,
        10_000,
        work_dir=tmp_path / "job",
        config=tiny_config,
        options=RunOptions(3.0, 10_000, eval_every_s=1.0),
    )
    assert result.run.stopped in ("budget", "plateau")
    assert result.run.steps < 10_000
    assert load_checkpoint(result.checkpoint).config == tiny_config


def test_plateau_stops_early(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    shard = write_session(tmp_path, "s1", frames=8)
    opts = RunOptions(600, 200, eval_every_steps=1, eval_every_s=1e9, patience=2, min_delta=0.01)
    result = finetune(
        [shard],
        None,
        600,
        200,
        work_dir=tmp_path / "job",
        config=tiny_config,
        options=opts,
        recipe=Recipe(lr=1e-12),  # nothing can improve
    )
    assert result.run.stopped == "plateau" and result.run.steps == 3


def test_patience_zero_never_stops_on_a_plateau(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    shard = write_session(tmp_path, "s1", frames=8)
    opts = RunOptions(600, 6, eval_every_steps=1, eval_every_s=1e9, patience=0, min_delta=0.01)
    result = finetune(
        [shard],
        None,
        600,
        6,
        work_dir=tmp_path / "job",
        config=tiny_config,
        options=opts,
        recipe=Recipe(lr=1e-12),  # nothing can improve
    )
    assert result.run.stopped == "max_steps" and result.run.steps == 6


def test_decay_holds_then_lowers_the_learning_rate(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    frames = build_frameset([write_session(tmp_path, "s1", frames=4)], 128)
    model = Pix2Pix.from_config(tiny_config.with_recipe(Recipe(schedule="decay")))
    rates: list[float] = []
    opts = RunOptions(600, 8, eval_every_s=1e9)
    run = TrainingRun(model, frames, frames, tmp_path / "run", opts)
    run.progress = lambda p: rates.append(run.lr_factor())
    run.fit()
    # Steps 1-4 of 8: full rate; then down by a quarter per step, to zero at the cap.
    assert rates == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0], abs=1e-3)
    assert load_checkpoint(run.last).optimizers["g"]["param_groups"][0]["lr"] == 0.0


def test_temporal_model_trains_and_generates(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    shard = write_session(tmp_path, "s1", frames=8)
    cfg = tiny_config.model_copy(update={"temporal": True})
    result = finetune([shard], None, 600, 2, work_dir=tmp_path / "job", config=cfg)
    model = load_checkpoint(result.run.last).build_model()
    out = model.generate(torch.zeros(1, 3, 128, 128), torch.zeros(1, 3, 128, 128))
    assert out.shape == (1, 3, 128, 128) and model.generator.downs[0][0].in_channels == 6


def test_lister_function_and_missing_start_are_handled(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    shard = write_session(tmp_path, "s1", frames=8)
    with pytest.raises(TrainingError, match="booth checkpoint"):
        finetune(lambda: [shard], None, 10, 1, work_dir=tmp_path / "a")
    with pytest.raises(CheckpointError):
        finetune(lambda: [shard], tmp_path / "nope.safetensors", 10, 1, work_dir=tmp_path / "b")
    result = finetune(
        lambda: [shard.read_bytes()], None, 60, 1, work_dir=tmp_path / "c", config=tiny_config
    )
    assert result.run.steps == 1 and result.frames_train + result.frames_held_out == 8


def test_finetune_learns_at_its_own_rate_unless_told(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    shard = write_session(tmp_path, "s1", frames=8)
    booth = tmp_path / "booth.safetensors"
    # The booth's recipe says 2e-4, decaying; a fine-tune trains by its own recipe.
    save_checkpoint(booth, Pix2Pix.from_config(tiny_config.with_recipe(BOOTH_RECIPE)))
    default = finetune([shard], booth, 600, 2, work_dir=tmp_path / "a")
    told = finetune([shard], booth, 600, 2, work_dir=tmp_path / "b", recipe=Recipe(lr=3e-5))

    def rate(result: FinetuneResult) -> float:
        return float(load_checkpoint(result.run.last).optimizers["g"]["param_groups"][0]["lr"])

    assert rate(default) == pytest.approx(Recipe().lr) and rate(told) == pytest.approx(3e-5)
    # The recipe is saved with the checkpoints, and read back.
    assert load_checkpoint(default.checkpoint).config.recipe == Recipe()
    assert load_checkpoint(told.run.last).config.recipe == Recipe(lr=3e-5)


def test_weight_average_is_what_is_scored_kept_and_resumed(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    frames = build_frameset([write_session(tmp_path, "s1", frames=8)], 128)
    torch.manual_seed(0)
    model = Pix2Pix.from_config(tiny_config.with_recipe(Recipe(lr=1e-3, ema=0.9)))
    opts = RunOptions(600, 6, eval_every_steps=3, eval_every_s=1e9)
    run = TrainingRun(model, frames, frames.subset([0, 1]), tmp_path / "run", opts)
    result = run.fit()
    assert run.average is not None
    last, best = load_checkpoint(result.last), load_checkpoint(result.best)
    raw = model.generator.state_dict()
    # last.safetensors: the raw weights to go on training from, and the average beside them.
    for k, v in raw.items():
        assert torch.equal(last.weights[f"generator.{k}"], v)
        assert torch.equal(last.averaged[k], run.average.shadow[k])
    assert any(not torch.equal(raw[k], run.average.shadow[k]) for k in raw)
    # best.safetensors holds the average, and the scores are the average's.
    kept = best.build_model()
    for k, v in kept.generator.state_dict().items():
        assert torch.equal(v, run.average.shadow[k])
    assert not best.averaged
    assert evaluate(kept, frames.subset([0, 1]))["ssim"] == pytest.approx(result.metrics["ssim"])

    # A resumed run starts from the saved average, not from the raw weights.
    resumed = TrainingRun(
        last.build_model(),
        frames,
        frames.subset([0, 1]),
        tmp_path / "run",
        RunOptions(600, 6),
        resume=last,
    )
    assert resumed.average is not None
    for k, v in run.average.shadow.items():
        assert torch.equal(resumed.average.shadow[k], v)
    # Without an average the kept weights are the raw ones.
    plain = TrainingRun(
        Pix2Pix.from_config(tiny_config.with_recipe(Recipe(ema=0.0))),
        frames,
        frames.subset([0]),
        tmp_path / "plain",
        RunOptions(600, 2),
    )
    plain_result = plain.fit()
    assert plain.average is None and not load_checkpoint(plain_result.last).averaged
