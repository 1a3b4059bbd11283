"""The generator that draws the person only: RGB + alpha, trained on the person region
and the mask, scored composited over the booth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cloud.render.torch_generator import TorchGenerator
from cloud.training.checkpoint import load_checkpoint, save_checkpoint
from cloud.training.config import Pix2PixConfig, Recipe
from cloud.training.data import build_frameset
from cloud.training.evaluation import ScoringSet, estimate_plates, evaluate, rendered_frames
from cloud.training.finetune import finetune
from cloud.training.loop import RunOptions
from cloud.training.model import Pix2Pix
from tests.cloud.training.dancer import write_session


@pytest.fixture
def dancer_only(tiny_config: Pix2PixConfig) -> Pix2PixConfig:
    return tiny_config.model_copy(update={"dancer_only": True})


def test_dancer_only_fine_tune_trains_alpha_and_reports_it(
    tmp_path: Path, dancer_only: Pix2PixConfig
) -> None:
    shard = write_session(tmp_path, "s1", frames=12, masks=True)
    result = finetune(
        [shard],
        None,
        600,
        4,
        work_dir=tmp_path / "job",
        config=dancer_only,
        options=RunOptions(600, 4, eval_every_s=1e9),
    )
    assert result.dancer_only and not result.mask_fallback and result.frames_without_mask == 0
    assert result.report()["generation"] == "dancer-only"
    model = load_checkpoint(result.checkpoint).build_model()
    assert model.config.dancer_only
    out = model.generate(torch.zeros(1, 3, 128, 128))
    assert out.shape == (1, 4, 128, 128)
    assert {"region_ssim", "ssim"} <= set(result.run.metrics)


def test_a_session_without_masks_falls_back_to_full_frame(
    tmp_path: Path, dancer_only: Pix2PixConfig
) -> None:
    shard = write_session(tmp_path, "s1", frames=8)  # an old node: no masks
    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(dancer_only), half=True)
    result = finetune([shard], booth, 600, 2, work_dir=tmp_path / "job")
    assert result.mask_fallback and not result.dancer_only and result.frames_without_mask == 8
    assert result.report() == {
        "generation": "full-frame",
        "frames_without_mask": 8,
        "full_frame_fallback": True,
    }
    kept = load_checkpoint(result.checkpoint)
    assert not kept.config.dancer_only
    assert kept.build_model().generate(torch.zeros(1, 3, 128, 128)).shape[1] == 3


def test_a_full_frame_booth_warm_starts_a_dancer_only_fine_tune(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    booth = tmp_path / "booth.safetensors"
    torch.manual_seed(0)
    full = Pix2Pix.from_config(tiny_config)
    save_checkpoint(booth, full)
    shard = write_session(tmp_path, "s1", frames=8, masks=True)
    result = finetune([shard], booth, 600, 1, work_dir=tmp_path / "job", dancer_only=True)
    assert result.dancer_only and result.warm_start
    # Before its first step the warm start drew the booth's RGB (same weights), alpha 0.5.
    ckpt = load_checkpoint(booth)
    model = Pix2Pix.from_config(tiny_config.model_copy(update={"dancer_only": True}))
    ckpt.load_into(model)
    pose = torch.rand(1, 3, 128, 128) * 2 - 1
    out = model.generate(pose)
    assert torch.allclose(out[:, :3], full.generate(pose), atol=1e-5)
    assert torch.allclose(out[:, 3], torch.zeros(1, 128, 128))


def test_frames_without_a_mask_train_full_frame(dancer_only: Pix2PixConfig) -> None:
    model = Pix2Pix.from_config(dancer_only)
    real = torch.rand(2, 3, 128, 128) * 2 - 1
    out = torch.rand(2, 4, 128, 128) * 2 - 1
    mask = -torch.ones(2, 1, 128, 128)
    mask[:, :, 40:90, 50:80] = 1.0
    batch = {"image": real, "mask": mask, "has_mask": torch.tensor([1.0, 0.0])}
    fake, weight, extra = model.shown(out, batch)
    assert weight is not None
    # Masked sample: the person drawn, the booth real; its L1 on the grown person region.
    assert torch.equal(fake[0, :, 0, 0], real[0, :, 0, 0])
    assert torch.equal(fake[0, :, 60, 60], out[0, :3, 60, 60])
    assert weight[0, 0, 0, 0] == 0 and weight[0, 0, 39, 60] == 1
    # Unmasked sample: shown and compared whole, alpha not trained.
    assert torch.equal(fake[1], out[1, :3]) and bool((weight[1] == 1).all())
    alpha = (out[0, 3:] + 1) / 2
    assert extra["g_alpha"] == pytest.approx(float((alpha - (mask[0] + 1) / 2).abs().mean()))


def test_plate_is_the_booth_behind_the_dancer(tmp_path: Path) -> None:
    frames = build_frameset([write_session(tmp_path, "s1", frames=16, masks=True)], 128)
    plates, known = estimate_plates(frames)
    assert bool(known.all())
    outside = frames.masks == 0
    grown = torch.nn.functional.max_pool2d(frames.masks.float(), 21, 1, 10) > 0
    far = (~grown).expand_as(frames.images)
    # Away from the dancer the plate is the frame (the booth does not move).
    diff = (plates.float() - frames.images.float()).abs()[far]
    assert diff.mean() < 3.0, diff.mean()
    assert outside.any()


def test_scoring_composites_over_the_plate_and_upsamples(
    tmp_path: Path, dancer_only: Pix2PixConfig
) -> None:
    frames = build_frameset([write_session(tmp_path, "s1", frames=8, masks=True)], 256)
    model = Pix2Pix.from_config(dancer_only)  # 128 px, scored on 256 px frames
    with torch.no_grad():
        model.generator.out[0].bias[3] = -20.0  # alpha 0 everywhere: only the plate shows
    scoring = ScoringSet.of(frames, model)
    shown = rendered_frames(model, scoring)
    assert shown.shape == (8, 3, 256, 256)
    assert torch.allclose(shown, scoring.plates.float() / 255, atol=1e-4)
    assert scoring.full_frame == 0 and 0 < evaluate(model, scoring)["ssim"] <= 1


def test_torch_generator_returns_bgra_for_a_dancer_only_model(
    dancer_only: Pix2PixConfig,
) -> None:
    model = Pix2Pix.from_config(dancer_only.with_recipe(Recipe()))
    gen = TorchGenerator(model, model_version="t", device="cpu", precision="fp32")
    out = gen.generate(np.zeros((2, 128, 128, 3), np.uint8), None)
    assert gen.dancer_only and out.shape == (2, 128, 128, 4) and out.dtype == np.uint8
