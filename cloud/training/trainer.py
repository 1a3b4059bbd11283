"""The Lightning ``Trainer`` a training run uses: device, precision, and nothing else.

The run's callback (:mod:`cloud.training.loop`) owns stopping, evaluation,
checkpoints and progress, so the trainer logs nothing, saves nothing and shows no bar.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L  # noqa: N812
import torch
from lightning.pytorch.plugins.precision import MixedPrecision
from lightning.pytorch.strategies import Strategy

from cloud.training.device import Resolved, lightning_devices


def make_trainer(
    device: torch.device,
    precision: Resolved,
    callbacks: list[L.Callback],
    *,
    strategy: Strategy | str = "auto",
) -> L.Trainer:
    """A quiet Trainer on ``device``: our callback owns stopping, checkpoints and progress.

    ``16-mixed`` on the CPU (tests: the GPU's fp16 path, loss scaler included) goes
    through Lightning's ``MixedPrecision`` with a CPU ``GradScaler``; Lightning refuses
    the plain flag there.
    """
    # Lightning announces GPUs/TPUs and tips at INFO on every Trainer; our callback
    # reports what matters, so keep its chatter to warnings.
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    accelerator, devices = lightning_devices(device)
    plugins: list[Any] = []
    flag: Resolved | None = precision
    if precision == "16-mixed" and device.type == "cpu":
        plugins.append(MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu")))
        flag = None
    return L.Trainer(
        accelerator=accelerator,
        devices=devices,
        strategy=strategy,
        precision=flag,
        plugins=plugins or None,
        benchmark=device.type == "cuda",  # fixed shapes: let cuDNN pick its fastest kernels
        max_epochs=1,
        max_steps=-1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=callbacks,
    )
