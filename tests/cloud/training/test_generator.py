from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cloud.render.generator import Generator
from cloud.training.batches import to_float
from cloud.training.checkpoint import save_checkpoint
from cloud.training.errors import TrainingError
from cloud.training.generator import CheckpointGenerator
from cloud.training.model import Pix2Pix, Pix2PixConfig
from common.posemap import pose_map
from tests.cloud.training.dancer import keypoints


def test_checkpoint_generator_matches_the_model_on_bgr_pose_maps(
    tmp_path: Path, tiny_config: Pix2PixConfig
) -> None:
    torch.manual_seed(0)
    model = Pix2Pix.from_config(tiny_config)
    path = tmp_path / "m.safetensors"
    save_checkpoint(path, model)
    gen = CheckpointGenerator(path, device="cpu")
    assert isinstance(gen, Generator) and gen.resolution == 128 and not gen.temporal
    bgr = np.stack([pose_map(keypoints(t, 128, 128), 128, 128) for t in (0.0, 1.0)])
    out = gen.generate(bgr, None)
    assert out.shape == (2, 128, 128, 3) and out.dtype == np.uint8
    rgb = torch.from_numpy(np.ascontiguousarray(bgr[..., ::-1])).permute(0, 3, 1, 2)
    with torch.no_grad():
        want = (model.eval().generate(to_float(rgb)) + 1) * 127.5
    got = torch.from_numpy(np.ascontiguousarray(out[..., ::-1])).permute(0, 3, 1, 2).float()
    assert (got - want).abs().max() <= 1.0
    with pytest.raises(TrainingError, match="pose maps"):
        gen.generate(bgr[:, :64], None)


def test_temporal_generator_chains_frames(tmp_path: Path, tiny_config: Pix2PixConfig) -> None:
    torch.manual_seed(0)
    path = tmp_path / "t.safetensors"
    save_checkpoint(path, Pix2Pix.from_config(tiny_config.model_copy(update={"temporal": True})))
    gen = CheckpointGenerator(path, device="cpu")
    poses = np.stack([pose_map(keypoints(0.0, 128, 128), 128, 128)] * 2)
    out = gen.generate(poses, None)
    # Same pose twice, but the second frame sees the first as its previous output.
    assert not np.array_equal(out[0], out[1])
    # Chaining across calls through ``previous`` gives the same frame (up to the uint8
    # rounding of the previous frame).
    again = gen.generate(poses[:1], out[0])
    assert np.abs(again[0].astype(int) - out[1].astype(int)).max() <= 3
