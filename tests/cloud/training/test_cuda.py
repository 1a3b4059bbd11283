"""On a CUDA GPU: three steps at 256 px, a kill, a resume, a render. Skipped without one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from cloud.render.torch_generator import TorchGenerator
from cloud.training.checkpoint import load_checkpoint, save_checkpoint
from cloud.training.config import Pix2PixConfig
from cloud.training.finetune import finetune
from cloud.training.loop import Progress, RunOptions
from cloud.training.model import Pix2Pix
from common.posemap import pose_map
from tests.cloud.training.dancer import keypoints, write_session

pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def test_three_steps_kill_resume_and_render_at_256_px(tmp_path: Path) -> None:
    shard = write_session(tmp_path, "s1", frames=12, width=320, height=240)
    booth = tmp_path / "booth.safetensors"
    save_checkpoint(booth, Pix2Pix.from_config(Pix2PixConfig(resolution=256)), half=True)
    work = tmp_path / "job"
    opts = RunOptions(600, 3, eval_every_steps=2, eval_every_s=1e9, device="cuda")

    def killed_at_step_3(p: Progress) -> None:
        if p.step == 3:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError, match="killed"):
        finetune(
            [shard],
            booth,
            600,
            3,
            work_dir=work,
            options=opts,
            progress_callback=killed_at_step_3,
            resolution=256,
        )
    saved = load_checkpoint(work / "last.safetensors")
    assert saved.step == 2 and saved.optimizers and saved.averaged
    if torch.cuda.get_device_capability()[0] < 8:  # fp16 with a loss scaler
        assert saved.state["scaler"]["scale"] > 0

    result = finetune([shard], booth, 600, 3, work_dir=work, options=opts, resolution=256)
    assert result.run.start_step == 2 and result.run.steps == 3
    assert all(np.isfinite(v) for v in result.run.metrics.values())

    gen = TorchGenerator.from_checkpoint(result.checkpoint, device="cuda")
    poses = np.stack([pose_map(keypoints(t, 256, 256), 256, 256) for t in (0.0, 0.5)])
    frames = gen.generate(poses, None)
    assert frames.shape == (2, 256, 256, 3) and frames.dtype == np.uint8
