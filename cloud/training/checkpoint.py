"""Checkpoints: safetensors weights + typed config + format version + training state.

One ``.safetensors`` file holds the generator and discriminator weights, optionally
both optimisers' tensors and the generator's weight average (for resume), and string
metadata: the format name and version, the :class:`Pix2PixConfig` as JSON, the step,
free-form training state (elapsed seconds, metric history) and a sha256 over every
tensor's bytes, checked on load so a flipped bit is an error rather than a silently
worse model. Files are written to a temporary name and renamed, so a killed run never
leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from cloud.training.config import Pix2PixConfig
from cloud.training.errors import CheckpointError
from cloud.training.model import Pix2Pix

FORMAT = "dancebooth-pix2pix"
# 2: the config holds the training recipe (cloud.training.config). Version 1 files (a
# flat config) are still read; their config is migrated on load.
FORMAT_VERSION = 2
READABLE_VERSIONS = ("1", "2")
AVERAGED = "ema."  # tensor-name prefix of the generator's weight average (resume files)


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _split_optimizer(
    name: str, state: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Optimiser tensors (safetensors) apart from everything else (JSON metadata)."""
    tensors: dict[str, torch.Tensor] = {}
    rest: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for pid, pstate in state["state"].items():
        rest["state"][str(pid)] = {}
        for key, value in pstate.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{name}.{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                rest["state"][str(pid)][key] = value
    return tensors, rest


def _join_optimizer(
    name: str, rest: dict[str, Any], tensors: dict[str, torch.Tensor]
) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(pid): dict(v) for pid, v in rest["state"].items()}
    prefix = f"optim.{name}."
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, _, sub = key[len(prefix) :].partition(".")
            state.setdefault(int(pid), {})[sub] = value
    return {"state": state, "param_groups": rest["param_groups"]}


# The generator's last layer (a transposed convolution: weight [in, out, k, k], bias [out]),
# whose output channels say what it draws: RGB (3) or RGB + alpha (4).
OUTPUT_LAYER = ("generator.out.0.weight", "generator.out.0.bias")


def _fit_output(value: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    dim = 1 if value.ndim == 4 else 0
    if value.shape[dim] > shape[dim]:
        return value.narrow(dim, 0, shape[dim]).clone()
    pad = list(value.shape)
    pad[dim] = shape[dim] - value.shape[dim]
    return torch.cat([value, value.new_zeros(pad)], dim=dim)


@dataclass
class Checkpoint:
    """A loaded checkpoint: config, weights, and (if saved) optimiser and run state."""

    config: Pix2PixConfig
    weights: dict[str, torch.Tensor]
    step: int = 0
    state: dict[str, Any] = field(default_factory=dict)
    optimizers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sha256: str = ""
    averaged: dict[str, torch.Tensor] = field(default_factory=dict)  # generator weight average

    def build_model(self) -> Pix2Pix:
        model = Pix2Pix.from_config(self.config)
        self.load_into(model)
        return model

    def load_into(self, model: Pix2Pix) -> None:
        """Copy the weights into ``model``; a full-frame generator's weights fit a
        dancer-only model (its alpha output starts at 0.5 everywhere) and the other way
        round (the alpha output is dropped)."""
        sd = {k: v.float() for k, v in self.weights.items()}
        target = model.state_dict()
        for key in OUTPUT_LAYER:
            if key in sd and key in target and sd[key].shape != target[key].shape:
                sd[key] = _fit_output(sd[key], target[key].shape)
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint weights do not fit the model: {exc}") from exc
        model.steps_done = self.step


def save_checkpoint(
    path: str | Path,
    model: Pix2Pix,
    *,
    optimizers: dict[str, dict[str, Any]] | None = None,
    state: dict[str, Any] | None = None,
    half: bool = False,
    averaged: dict[str, torch.Tensor] | None = None,
) -> str:
    """Write ``model`` (and optimiser state dicts by name, and the generator's weight
    average of a run to resume) to ``path``; return its sha256.

    ``half`` stores weights as fp16 (a compact booth checkpoint); resumable checkpoints
    keep fp32 so resume is bit-exact.
    """
    sd = model.state_dict()
    dtype = torch.float16 if half else None
    tensors = {
        k: (v.to(dtype) if dtype and v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in sd.items()
    }
    optim_meta: dict[str, Any] = {}
    for name, opt_state in (optimizers or {}).items():
        t, rest = _split_optimizer(name, opt_state)
        tensors.update(t)
        optim_meta[name] = rest
    for name, value in (averaged or {}).items():
        tensors[f"{AVERAGED}{name}"] = value.detach().cpu().contiguous()
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "config": model.config.model_dump_json(),
        "step": str(model.steps_done),
        "state": json.dumps(state or {}),
        "optimizers": json.dumps(optim_meta),
        "tensors_sha256": tensors_sha256(tensors),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)
    return file_sha256(path)


def _read(path: Path) -> tuple[dict[str, str], dict[str, torch.Tensor]]:
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: run 'dancebooth model train-base' first")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{path} is corrupt or not a safetensors file ({exc}): "
            "delete it and rebuild or re-copy it"
        ) from exc
    return meta, tensors


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and verify a checkpoint; raise :class:`CheckpointError` saying what is wrong."""
    path = Path(path)
    meta, tensors = _read(path)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dancebooth pix2pix checkpoint")
    version = meta.get("format_version", "?")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"{path} has checkpoint format version {version}; this code reads versions "
            f"{', '.join(READABLE_VERSIONS)}: rebuild it with this version's "
            "'dancebooth model train-base'"
        )
    if tensors_sha256(tensors) != meta.get("tensors_sha256"):
        raise CheckpointError(
            f"{path} is corrupt (tensor checksum mismatch): rebuild or re-copy it"
        )
    try:
        config = Pix2PixConfig.model_validate_json(meta["config"])
        step = int(meta["step"])
        state = json.loads(meta["state"])
        optim_meta = json.loads(meta["optimizers"])
    except (KeyError, ValueError, ValidationError) as exc:
        raise CheckpointError(f"{path} has unreadable metadata: {exc}") from exc
    weights = {k: v for k, v in tensors.items() if not k.startswith(("optim.", AVERAGED))}
    averaged = {k[len(AVERAGED) :]: v for k, v in tensors.items() if k.startswith(AVERAGED)}
    optimizers = {n: _join_optimizer(n, rest, tensors) for n, rest in optim_meta.items()}
    return Checkpoint(config, weights, step, state, optimizers, file_sha256(path), averaged)


def checkpoint_summary(path: str | Path) -> dict[str, Any]:
    """What ``dancebooth model info`` prints: config, step, state, size, sha256."""
    ckpt = load_checkpoint(path)
    params = sum(v.numel() for v in ckpt.weights.values())
    dtypes = sorted({str(v.dtype).removeprefix("torch.") for v in ckpt.weights.values()})
    return {
        "path": str(path),
        "sha256": ckpt.sha256,
        "bytes": Path(path).stat().st_size,
        "format_version": FORMAT_VERSION,
        "step": ckpt.step,
        "parameters": params,
        "dtypes": dtypes,
        "resumable": bool(ckpt.optimizers),
        "config": ckpt.config.model_dump(),
        "state": ckpt.state,
    }
