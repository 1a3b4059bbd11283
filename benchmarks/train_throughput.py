"""``dancebooth bench train --part throughput``: the training loop against plain PyTorch.

Images/s of the Lightning fine-tune loop (batches drawn from the in-memory stream, the
weight average, the callback) next to a plain-PyTorch loop over the same networks,
losses, batch size, device and precision in the same process: the difference is
Lightning + data overhead. On a GPU both loops are timed with the device synchronised
at each stamp (queued kernels are not finished work) and run in the precision the
worker would pick (bf16 where the GPU has it, else fp16 with a loss scaler).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import torch

from cloud.training.batches import BatchStream
from cloud.training.config import Pix2PixConfig
from cloud.training.corpus import CorpusSession
from cloud.training.data import FrameSet, build_frameset, place_frames
from cloud.training.device import Precision, resolve_precision
from cloud.training.loop import Progress, RunOptions, TrainingRun
from cloud.training.losses import discriminator_loss, generator_loss
from cloud.training.model import Pix2Pix

Durations = list[tuple[float, float]]  # per step: (wall seconds, this process's CPU seconds)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (nothing to wait for on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PlainLoop:
    """pix2pix updates without Lightning: the baseline the module is measured against,
    in the precision the Lightning loop uses (autocast, plus a loss scaler for fp16)."""

    def __init__(self, model: Pix2Pix, device: torch.device, precision: Precision) -> None:
        self.model = model.to(device)
        self.device = device
        self.opt_g, self.opt_d = model.configure_optimizers()
        self.dtype = {"16-mixed": torch.float16, "bf16-mixed": torch.bfloat16}.get(precision)
        self.scaler = torch.amp.GradScaler(device.type) if precision == "16-mixed" else None

    def autocast(self) -> contextlib.AbstractContextManager[None]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def update(self, loss: torch.Tensor, opt: torch.optim.Optimizer) -> None:
        opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
            opt.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(opt)
        self.scaler.update()

    @contextlib.contextmanager
    def frozen_discriminator(self) -> Iterator[None]:
        for p in self.model.discriminator.parameters():
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in self.model.discriminator.parameters():
                p.requires_grad_(True)

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        """D step, then G step."""
        model, cfg = self.model, self.model.config
        with self.autocast():
            fake, condition = model.fake_and_condition(batch)
            d = discriminator_loss(
                model.discriminator, condition, batch["image"], fake.detach(), cfg.recipe.gan_mode
            )
        self.update(d["d_loss"], self.opt_d)
        with self.frozen_discriminator():
            with self.autocast():
                g = generator_loss(
                    model.discriminator,
                    condition,
                    batch["image"],
                    fake,
                    cfg.recipe.gan_mode,
                    lambda_l1=cfg.recipe.lambda_l1,
                    lambda_fm=cfg.recipe.lambda_fm,
                )
            self.update(g["g_loss"], self.opt_g)


def plain_steps(
    cfg: Pix2PixConfig,
    data: FrameSet,
    batch_size: int,
    warmup: int,
    steps: int,
    device: torch.device,
    precision: Precision,
) -> Durations:
    torch.manual_seed(0)
    loop = PlainLoop(Pix2Pix.from_config(cfg), device, precision)
    # One fixed batch: pure compute.
    batch = next(iter(BatchStream(data, batch_size, device=device)))
    out = []
    for i in range(warmup + steps):
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        loop.step(batch)
        sync(device)
        if i >= warmup:
            out.append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def lightning_steps(
    cfg: Pix2PixConfig,
    data: FrameSet,
    batch_size: int,
    warmup: int,
    steps: int,
    work: Path,
    device: torch.device,
    precision: Precision,
) -> tuple[Durations, float]:
    """Per-step durations of the real training loop (batch making, Lightning's hooks and
    the weight average included) after ``warmup`` steps, and the share of wall time
    making batches."""
    torch.manual_seed(0)
    model = Pix2Pix.from_config(cfg)
    stamps: dict[int, tuple[float, float]] = {}

    def stamp(p: Progress) -> None:
        sync(device)
        stamps[p.step] = (time.perf_counter(), time.process_time())

    opts = RunOptions(
        1e9,
        warmup + steps,
        batch_size=batch_size,
        eval_every_s=1e9,
        device=str(device),
        precision=precision,
    )
    run = TrainingRun(model, data, data.subset([0]), work, opts, progress=stamp)
    result = run.fit()
    out = []
    for i in range(warmup + 1, warmup + steps + 1):
        (t0, c0), (t1, c1) = stamps[i - 1], stamps[i]
        out.append((t1 - t0, c1 - c0))
    return out, result.data_share


def _rates(durations: Durations, batch_size: int) -> tuple[float, float]:
    """Images/s from the median step (wall) and from total CPU time: the median is the
    figure least disturbed by other processes' bursts on a shared machine."""
    wall = float(np.median([d[0] for d in durations]))
    cpu = sum(d[1] for d in durations) / len(durations)
    return batch_size / wall, batch_size / cpu


def throughput_row(
    res: int,
    session: CorpusSession,
    batch_size: int,
    steps: int,
    ngf: int,
    rounds: int,
    device: torch.device,
) -> str:
    cfg = Pix2PixConfig.model_validate({"resolution": res, "ngf": ngf})
    data = place_frames(build_frameset(session.shards, res), device)
    precision = resolve_precision("auto", device)
    plain: Durations = []
    lit: Durations = []
    shares = []
    with tempfile.TemporaryDirectory() as tmp:
        # Alternate the two loops, so a change in the machine's load during the
        # benchmark does not read as overhead of either.
        for _ in range(rounds):
            plain += plain_steps(cfg, data, batch_size, 2, steps, device, precision)
            durations, share = lightning_steps(
                cfg, data, batch_size, 2, steps, Path(tmp), device, precision
            )
            lit += durations
            shares.append(share)
    p, q = _rates(plain, batch_size), _rates(lit, batch_size)
    where = "device" if data.images.device == device else "host"
    return (
        f"| {res} px | {precision} | {p[0]:.2f} | {q[0]:.2f} | {1 - q[0] / p[0]:+.1%} | "
        f"{p[1]:.2f} | {q[1]:.2f} | {1 - q[1] / p[1]:+.1%} | {max(shares):.2%} | "
        f"{data.nbytes() / 1e6:.0f} MB on the {where} |"
    )


def run_throughput(
    session: CorpusSession,
    resolutions: list[int],
    batch_size: int,
    steps: int,
    ngf: int,
    rounds: int,
    device: torch.device,
) -> None:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    click.echo(
        f"throughput on {device} ({name}): ngf {ngf}, batch {batch_size}, {steps} timed "
        f"steps after 2 warm-up steps, {rounds} alternating rounds, session {session.session}"
    )
    click.echo(
        "| resolution | precision | plain img/s (wall) | Lightning + data img/s (wall) "
        "| overhead | plain img/s (CPU time) | Lightning + data img/s (CPU time) | overhead "
        "| data share of wall time | session frames |"
    )
    click.echo("|---|---|---|---|---|---|---|---|---|---|")
    for res in resolutions:
        click.echo(throughput_row(res, session, batch_size, steps, ngf, rounds, device))


def step_flops(cfg: Pix2PixConfig, batch_size: int) -> float:
    """Floating-point operations of one training step (D step, then G step, forward and
    backward; convolutions and matrix products), counted on the meta device: no compute."""
    from torch.utils.flop_counter import FlopCounterMode

    model = Pix2Pix.from_config(cfg).to("meta")
    extra = 3 if cfg.temporal else 0
    res = cfg.resolution
    batch = {k: torch.empty(batch_size, 3, res, res, device="meta") for k in ("pose", "image")}
    if extra:
        batch["prev_pose"] = batch["prev_image"] = torch.empty_like(batch["pose"])
    with FlopCounterMode(display=False) as counter:
        fake, condition = model.fake_and_condition(batch)
        d = discriminator_loss(
            model.discriminator, condition, batch["image"], fake.detach(), cfg.recipe.gan_mode
        )
        d["d_loss"].backward()
        g = generator_loss(
            model.discriminator,
            condition,
            batch["image"],
            fake,
            cfg.recipe.gan_mode,
            lambda_l1=cfg.recipe.lambda_l1,
            lambda_fm=cfg.recipe.lambda_fm,
        )
        g["g_loss"].backward()
    return float(counter.get_total_flops())


def run_flops(resolutions: list[int], widths: list[int], batch_size: int) -> None:
    click.echo(f"FLOPs per training step, batch {batch_size} (counted, not timed)")
    click.echo("| resolution | ngf = ndf | G / D parameters | GFLOP per step | GFLOP per image |")
    click.echo("|---|---|---|---|---|")
    for res in resolutions:
        for width in widths:
            cfg = Pix2PixConfig.model_validate(
                {"resolution": res, "ngf": width, "ndf": width, "max_channels": max(256, 8 * width)}
            )
            model = Pix2Pix.from_config(cfg)
            g = sum(p.numel() for p in model.generator.parameters()) / 1e6
            d = sum(p.numel() for p in model.discriminator.parameters()) / 1e6
            flops = step_flops(cfg, batch_size) / 1e9
            click.echo(
                f"| {res} px | {width} | {g:.1f}M / {d:.2f}M | {flops:.1f} | "
                f"{flops / batch_size:.1f} |"
            )
