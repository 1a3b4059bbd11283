"""The visitor's fine-tuned pix2pix network as a render :class:`Generator`.

Adapts :class:`cloud.training.model.Pix2Pix` to the renderer's contract: BGR uint8
pose maps in, BGR uint8 frames out (BGRA for a dancer-only model, alpha 255 = dancer),
batched under ``torch.inference_mode()``. The
network was trained on RGB tensors in ``[-1, 1]`` (see ``cloud.training.batches``),
so the adapter flips channels and rescales both ways. A temporal model is chained
frame by frame inside the batch, starting from the renderer's ``previous`` frame
(zeros for the first frame of a clip, as in training). The model version written into
the rendition is ``pix2pix-<resolution>-<sha256[:12]>`` of the checkpoint file.

Speed: convolutions run channels-last, and under bfloat16 autocast where the CPU has
native bf16 (AVX512-BF16/AMX; about twice as fast on this 2-core EPYC, see ``dancebooth
bench render``) or float16 on a GPU (``bf16`` there only on GPUs that have it, Ampere
and newer: older ones fall back to float16 rather than fail). The output is quantised
to 8 bits anyway, so the lower precision moves pixels by a level or two.
``precision="fp32"`` turns it off.

OpenMP's idle workers are told to sleep rather than spin (``OMP_WAIT_POLICY=PASSIVE``,
unless set otherwise) when this module is the first to load torch: between batches
the renderer draws pose maps and encodes on the same cores, and spinning workers
starved it, making renders 2-6x slower on a shared 2-core machine.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, Literal

import numpy as np

if "torch" not in sys.modules:  # read once, when torch loads OpenMP
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch

from cloud.render.errors import GeneratorError
from cloud.render.generator import Images
from cloud.training.checkpoint import Checkpoint, load_checkpoint
from cloud.training.device import bf16_native, resolve_device
from cloud.training.errors import CheckpointError, DeviceError
from cloud.training.model import Pix2Pix

logger = logging.getLogger(__name__)


Precision = Literal["auto", "fp32", "bf16"]


def _autocast_dtype(
    device: torch.device, precision: Precision, *, bf16: bool | None = None
) -> torch.dtype | None:
    """The autocast type for ``precision`` on ``device``; ``bf16`` overrides the GPU query."""
    if precision == "fp32":
        return None
    if device.type == "cuda":
        if precision == "auto":
            return torch.float16
        if not (bf16_native(device) if bf16 is None else bf16):
            logger.warning("%s has no native bfloat16: rendering in float16 instead", device)
            return torch.float16
        return torch.bfloat16
    native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return torch.bfloat16 if precision == "bf16" or native else None


def _score(entry: object) -> float | None:
    if not isinstance(entry, dict):
        return None
    value = entry.get("region_ssim", entry.get("ssim"))
    if isinstance(value, int | float) and np.isfinite(value):
        return float(value)
    return None


def held_out_ssim(state: dict[str, Any]) -> float | None:
    """The checkpoint's held-out SSIM on the dancer's region (full frame if that is all).

    Published checkpoints carry ``held_out`` scores; run checkpoints a ``history`` of
    evaluations, of which the best one (by ``region_ssim``) is the model saved.
    """
    if "held_out" in state:
        return _score(state["held_out"])
    scores = [s for s in (_score(e) for e in state.get("history", [])) if s is not None]
    return max(scores) if scores else None


def _device(name: str) -> torch.device:
    try:
        return resolve_device(name)
    except DeviceError as exc:
        raise GeneratorError(str(exc)) from None


class TorchGenerator:
    """A pix2pix generator from a checkpoint (or a model in memory), for rendering."""

    dancer_only: bool  # the model's config: the person only (BGRA) or the whole frame

    def __init__(
        self,
        model: Pix2Pix,
        *,
        model_version: str,
        device: str = "auto",
        held_out_ssim: float | None = None,
        precision: Precision = "auto",
    ) -> None:
        self.device = _device(device)
        self.model = model.to(self.device, memory_format=torch.channels_last).eval()
        cfg = model.config
        self.resolution: int = cfg.resolution
        self.temporal: bool = cfg.temporal
        self.dancer_only = cfg.dancer_only
        self.model_version = model_version
        self.held_out_ssim = held_out_ssim
        self._dtype = _autocast_dtype(self.device, precision)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        *,
        device: str = "auto",
        precision: Precision = "auto",
    ) -> TorchGenerator:
        """Load a fine-tuned (or booth) checkpoint; errors say which file and what to do."""
        try:
            ckpt: Checkpoint = load_checkpoint(path)
            model = ckpt.build_model()
        except CheckpointError as exc:
            raise GeneratorError(f"cannot load the generator: {exc}") from None
        ssim = held_out_ssim(ckpt.state)
        version = f"pix2pix-{ckpt.config.resolution}-{ckpt.sha256[:12]}"
        logger.info("generator %s from %s (step %d)", version, path, ckpt.step)
        return cls(
            model, model_version=version, device=device, held_out_ssim=ssim, precision=precision
        )

    def _to_tensor(self, images: Images) -> torch.Tensor:
        rgb = np.ascontiguousarray(images[..., ::-1])
        t = torch.from_numpy(rgb).to(self.device).permute(0, 3, 1, 2).float()
        return t.div_(127.5).sub_(1.0).contiguous(memory_format=torch.channels_last)

    @staticmethod
    def _to_images(t: torch.Tensor) -> Images:
        """RGB (or RGB + alpha) in ``[-1, 1]`` -> uint8 BGR (or BGRA, 255 = dancer)."""
        u8 = t.float().clamp_(-1, 1).add_(1).mul_(127.5).round_().to(torch.uint8)
        out = u8.permute(0, 2, 3, 1).cpu().numpy()
        order = [2, 1, 0, 3][: out.shape[-1]]
        return np.ascontiguousarray(out[..., order])

    def generate(self, pose_maps: Images, previous: Images | None) -> Images:
        r = self.resolution
        if pose_maps.ndim != 4 or pose_maps.shape[1:] != (r, r, 3) or pose_maps.dtype != np.uint8:
            raise GeneratorError(
                f"pose maps must be [B, {r}, {r}, 3] uint8, got {pose_maps.shape} {pose_maps.dtype}"
            )
        with (
            torch.inference_mode(),
            torch.autocast(
                self.device.type, dtype=self._dtype or torch.float32, enabled=bool(self._dtype)
            ),
        ):
            poses = self._to_tensor(pose_maps)
            if not self.temporal:
                return self._to_images(self.model.generate(poses))
            prev = None if previous is None else self._to_tensor(previous[None])
            out = []
            for i in range(len(poses)):  # each frame conditioned on the one before
                prev = self.model.generate(poses[i : i + 1], prev)
                out.append(prev)
            return self._to_images(torch.cat(out))
