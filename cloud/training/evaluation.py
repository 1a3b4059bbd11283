"""Held-out evaluation: generate frames for unseen poses, score them against the truth.

Generation and scoring run on the model's device; the scores reach the host in one
read at the end.
"""

from __future__ import annotations

import torch

from cloud.training.batches import make_batch, to_unit
from cloud.training.data import FrameSet
from cloud.training.metrics import quality, region_quality
from cloud.training.model import Pix2Pix


@torch.no_grad()
def generate_frames(model: Pix2Pix, data: FrameSet, *, batch_size: int = 8) -> torch.Tensor:
    """Generated frames ``[N, 3, R, R]`` in ``[-1, 1]`` (float, on the model's device) for
    every frame of ``data``."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for start in range(0, len(data), batch_size):
            index = torch.arange(start, min(start + batch_size, len(data)))
            batch = make_batch(data, index, temporal=model.config.temporal, device=model.device)
            prev = None
            if model.config.temporal:  # as at render time: the previous output, not the truth
                prev = model.generate(batch["prev_pose"])
            out.append(model.generate(batch["pose"], prev).float())
    finally:
        model.train(was_training)
    return torch.cat(out)


def evaluate(model: Pix2Pix, held_out: FrameSet, *, batch_size: int = 8) -> dict[str, float]:
    """SSIM / MS-SSIM / PSNR on the full frame and on the dancer's region (``region_*``)."""
    fake = to_unit(generate_frames(model, held_out, batch_size=batch_size))
    real = held_out.images.to(fake.device).float() / 255.0
    scores = quality(fake, real)
    scores.update({f"region_{k}": v for k, v in region_quality(fake, real, held_out.boxes).items()})
    values = torch.stack(list(scores.values())).tolist()  # the one read from the device
    return dict(zip(scores, values, strict=True))
