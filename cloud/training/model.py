"""The pix2pix Lightning module: a training step reads "D step, then G step".

Hyperparameters are one typed, frozen :class:`Pix2PixConfig`; the module's
``__init__`` takes its fields as typed arguments and saves them
(``save_hyperparameters``) and every checkpoint stores the config as JSON.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L  # noqa: N812
import torch
from pydantic import BaseModel, ConfigDict, Field

from cloud.training.batches import Batch
from cloud.training.losses import GanMode, discriminator_loss, generator_loss
from cloud.training.networks import PatchDiscriminator, UNetGenerator, init_weights


class Pix2PixConfig(BaseModel):
    """Everything that defines a model and how it trains."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resolution: Literal[128, 256, 512] = 128
    # 16/16 keeps a 128 px step well under a second on 2 CPU cores (G 1.6M, D 0.2M
    # parameters); GPUs can afford 64/64 as in pix2pix.
    ngf: int = Field(16, ge=4, le=128)
    max_channels: int = Field(256, ge=16, le=1024)
    ndf: int = Field(16, ge=4, le=128)
    d_layers: int = Field(3, ge=1, le=5)
    gan_mode: Literal["lsgan", "vanilla"] = "lsgan"
    lambda_l1: float = Field(100.0, ge=0)
    lambda_fm: float = Field(10.0, ge=0)
    lr: float = Field(2e-4, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    temporal: bool = False
    dropout: bool = False


def build_networks(cfg: Pix2PixConfig) -> tuple[UNetGenerator, PatchDiscriminator]:
    # Temporal conditioning feeds the previous output frame as 3 more input channels
    # to G, and shows D the (pose, previous frame, frame) triple.
    extra = 3 if cfg.temporal else 0
    gen = UNetGenerator(
        3 + extra,
        3,
        resolution=cfg.resolution,
        ngf=cfg.ngf,
        max_channels=cfg.max_channels,
        dropout=cfg.dropout,
    )
    disc = PatchDiscriminator(6 + extra, ndf=cfg.ndf, n_layers=cfg.d_layers)
    init_weights(gen)
    init_weights(disc)
    return gen, disc


class Pix2Pix(L.LightningModule):
    """Pose map -> frame GAN with manual optimisation (two optimisers, D then G)."""

    def __init__(
        self,
        resolution: Literal[128, 256, 512] = 128,
        ngf: int = 16,
        max_channels: int = 256,
        ndf: int = 16,
        d_layers: int = 3,
        gan_mode: GanMode = "lsgan",
        lambda_l1: float = 100.0,
        lambda_fm: float = 10.0,
        lr: float = 2e-4,
        beta1: float = 0.5,
        temporal: bool = False,
        dropout: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.config = Pix2PixConfig(
            resolution=resolution,
            ngf=ngf,
            max_channels=max_channels,
            ndf=ndf,
            d_layers=d_layers,
            gan_mode=gan_mode,
            lambda_l1=lambda_l1,
            lambda_fm=lambda_fm,
            lr=lr,
            beta1=beta1,
            temporal=temporal,
            dropout=dropout,
        )
        self.generator, self.discriminator = build_networks(self.config)
        self.steps_done = 0  # G+D updates, whatever Lightning counts as global_step
        self.last_losses: dict[str, torch.Tensor] = {}  # the named losses of the last step

    @classmethod
    def from_config(cls, cfg: Pix2PixConfig) -> Pix2Pix:
        return cls(**cfg.model_dump())

    # -- inference -----------------------------------------------------------------
    def generate(self, pose: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        """Frames in ``[-1, 1]`` for pose maps in ``[-1, 1]``; ``prev`` is the previous
        output (zeros for a clip's first frame) when the model is temporal."""
        if self.config.temporal:
            prev = torch.zeros_like(pose) if prev is None else prev
            return self.generator(torch.cat([pose, prev], dim=1))
        return self.generator(pose)

    def forward(self, pose: torch.Tensor, prev: torch.Tensor | None = None) -> torch.Tensor:
        return self.generate(pose, prev)

    def fake_and_condition(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The generated frame and what D is conditioned on, for one batch."""
        pose = batch["pose"]
        if not self.config.temporal:
            return self.generate(pose), pose
        # The previous output is generated too (as at render time) but detached: the
        # gradient through two generator passes doubles memory for little gain on CPU.
        with torch.no_grad():
            prev_fake = self.generate(batch["prev_pose"])
        fake = self.generate(pose, prev_fake)
        return fake, torch.cat([pose, prev_fake], dim=1)

    # -- training ------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()  # type: ignore[attr-defined]
        cfg = self.config
        real = batch["image"]
        fake, condition = self.fake_and_condition(batch)
        if cfg.temporal:  # real pairs are conditioned on the real previous frame
            real_condition = torch.cat([batch["pose"], batch["prev_image"]], dim=1)
        else:
            real_condition = condition

        self.toggle_optimizer(opt_d)
        d = discriminator_loss(
            self.discriminator, real_condition, real, fake.detach(), cfg.gan_mode
        )
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(d["d_loss"])
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        g = generator_loss(
            self.discriminator,
            condition,
            real,
            fake,
            cfg.gan_mode,
            lambda_l1=cfg.lambda_l1,
            lambda_fm=cfg.lambda_fm,
        )
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g["g_loss"])
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        self.steps_done += 1
        self.last_losses = {k: v.detach() for k, v in {**d, **g}.items()}
        # Lightning's self.log costs ~0.5 ms of CPU per value on every step (measured by
        # ``dancebooth bench train --part throughput``: 7 values made up most of the
        # loop's overhead over plain PyTorch), so the training loop reads the losses
        # from ``last_losses`` and they go through Lightning only to an attached logger.
        if self._trainer is not None and self.trainer.loggers:
            self.log_dict(self.last_losses, on_step=True, on_epoch=False, batch_size=real.shape[0])

    def configure_optimizers(self) -> Any:
        betas = (self.config.beta1, 0.999)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=self.config.lr, betas=betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=self.config.lr, betas=betas)
        return [opt_g, opt_d]
