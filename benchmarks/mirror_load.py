"""A fine-tune's CPU load, for ``dancebooth bench mirror --beside-finetune``: the booth
128 px checkpoint trained (D step, then G step, batch 4, as a worker's fine-tune) on a
fixed batch until the process is stopped. Run as ``python -m benchmarks.mirror_load DIR``."""

from __future__ import annotations

import sys

import torch

from benchmarks.train_throughput import PlainLoop
from cloud.booth_models import booth_checkpoint
from cloud.training.checkpoint import load_checkpoint
from cloud.training.model import Pix2Pix


def main() -> None:
    # The booth checkpoint's network as a full-frame model: the same convolutions (the
    # plain loop has no alpha output); what this makes is CPU load, not a model.
    cfg = load_checkpoint(booth_checkpoint(128)).config.model_copy(update={"dancer_only": False})
    model = Pix2Pix.from_config(cfg)
    r, b = model.config.resolution, 4
    torch.manual_seed(0)
    batch = {
        "image": torch.rand(b, 3, r, r) * 2 - 1,
        "pose": torch.rand(b, 3, r, r) * 2 - 1,
        "prev_image": torch.rand(b, 3, r, r) * 2 - 1,
        "prev_pose": torch.rand(b, 3, r, r) * 2 - 1,
    }
    loop = PlainLoop(model, torch.device("cpu"), "32-true")
    steps = 0
    while True:
        loop.step(batch)
        steps += 1
        if steps % 20 == 0:
            print(f"fine-tune load: {steps} steps", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
