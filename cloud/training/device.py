"""Where training and rendering run: a device name from the settings, checked, and what
Lightning and autocast make of it.

Names are ``auto`` (the first CUDA GPU if one is visible, else the CPU), ``cpu``,
``cuda`` (GPU 0) or ``cuda:N``. Several workers on one multi-GPU host each take their
own ``cuda:N``; Lightning gets that GPU as ``devices=[N]``, not ``devices=1`` (which is
always GPU 0). A name the machine cannot honour is an error at start-up, not a job
that fails on every attempt.
"""

from __future__ import annotations

import re
from typing import Literal

import torch

from cloud.training.errors import DeviceError

DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
Precision = Literal["auto", "32-true", "16-mixed", "bf16-mixed"]
Resolved = Literal["32-true", "16-mixed", "bf16-mixed"]  # what ``auto`` becomes


def resolve_device(name: str) -> torch.device:
    """The ``torch.device`` for a device name; :class:`DeviceError` when it is absent."""
    if not re.match(DEVICE_PATTERN, name):
        raise DeviceError(f"device {name!r} is not one of auto, cpu, cuda, cuda:N")
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    index = int(name.partition(":")[2] or 0)
    visible = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= visible:
        raise DeviceError(
            f"device {name!r} was asked for but this machine sees {visible} CUDA GPU(s): "
            "check the NVIDIA driver and CUDA_VISIBLE_DEVICES (in a container: the NVIDIA "
            "Container Toolkit and the GPU reservation), or set training.device to cpu"
        )
    return torch.device("cuda", index)


def lightning_devices(device: torch.device) -> tuple[str, list[int] | int]:
    """``(accelerator, devices)`` for ``L.Trainer``: a GPU by its index."""
    if device.type == "cuda":
        return "cuda", [device.index or 0]
    return device.type, 1


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 natively (CUDA: Ampere, compute 8.0, or newer;
    older GPUs only emulate it, slowly)."""
    if device.type != "cuda":
        return False
    return torch.cuda.get_device_capability(device)[0] >= 8


def resolve_precision(
    precision: Precision, device: torch.device, *, bf16: bool | None = None
) -> Resolved:
    """``auto``: bf16 mixed precision on GPUs that have it (no loss scaling, so no scaler
    syncs and no skipped steps), fp16 with a loss scaler on older GPUs, fp32 on the CPU
    (where fp16 autocast is slower than fp32 for these convolutions). ``bf16`` overrides
    the device query (tests)."""
    if precision != "auto":
        return precision
    if device.type != "cuda":
        return "32-true"
    native = bf16_native(device) if bf16 is None else bf16
    return "bf16-mixed" if native else "16-mixed"
