"""The pix2pix Lightning module: a training step reads "D step, then G step".

Hyperparameters are one typed, frozen :class:`Pix2PixConfig` (network and training
recipe, :mod:`cloud.training.config`); the module's ``__init__`` takes it, saves it
(``save_hyperparameters``) and every checkpoint stores it as JSON.
"""

from __future__ import annotations

from typing import Any

import lightning as L  # noqa: N812
import torch

from cloud.training.batches import Batch
from cloud.training.config import Pix2PixConfig, Recipe
from cloud.training.losses import alpha_loss, discriminator_loss, generator_loss
from cloud.training.networks import PatchDiscriminator, UNetGenerator, init_weights


def build_networks(cfg: Pix2PixConfig) -> tuple[UNetGenerator, PatchDiscriminator]:
    # Temporal conditioning feeds the previous output frame as 3 more input channels
    # to G, and shows D the (pose, previous frame, frame) triple.
    extra = 3 if cfg.temporal else 0
    gen = UNetGenerator(
        3 + extra,
        cfg.out_channels,
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

    def __init__(self, config: Pix2PixConfig | None = None) -> None:
        super().__init__()
        self.config = config or Pix2PixConfig()
        self.save_hyperparameters({"config": self.config.model_dump()})
        self.automatic_optimization = False
        self.generator, self.discriminator = build_networks(self.config)
        self.steps_done = 0  # G+D updates, whatever Lightning counts as global_step
        self.last_losses: dict[str, torch.Tensor] = {}  # the named losses of the last step

    @classmethod
    def from_config(cls, cfg: Pix2PixConfig) -> Pix2Pix:
        return cls(cfg)

    @property
    def recipe(self) -> Recipe:
        return self.config.recipe

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

    def shown(
        self, out: torch.Tensor, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """What D sees of the generator's output ``out``, the L1's pixel weights, and the
        alpha loss (``{}`` for a full-frame model).

        A dancer-only model's person (its RGB inside the true mask) is shown over the
        real frame's booth, so D judges the person and the L1 covers the person region
        (the mask grown by a few pixels: the alpha's soft edge shows RGB a little past
        it). A sample without a mask is shown and compared full-frame, and its alpha is
        not trained."""
        if not self.config.dancer_only:
            return out, None, {}
        real = batch["image"]
        rgb, alpha = out[:, :3], (out[:, 3:] + 1.0) * 0.5
        mask = (batch["mask"] + 1.0) * 0.5
        has = batch["has_mask"][:, None, None, None]
        grow = 2 * max(1, self.config.resolution // 64) + 1
        region = torch.nn.functional.max_pool2d(mask, grow, stride=1, padding=grow // 2)
        fake = has * (mask * rgb + (1.0 - mask) * real) + (1.0 - has) * rgb
        weight = has * region + (1.0 - has)
        g_alpha = alpha_loss(alpha, mask, batch["has_mask"])
        return fake, weight, {"g_alpha": g_alpha}

    # -- training ------------------------------------------------------------------
    def training_step(self, batch: Batch, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()  # type: ignore[attr-defined]
        cfg = self.config.recipe
        real = batch["image"]
        out, condition = self.fake_and_condition(batch)
        fake, weight, extra = self.shown(out, batch)
        if self.config.temporal:  # real pairs are conditioned on the real previous frame
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
            drawn=out[:, :3],
            weight=weight,
        )
        if extra:
            g["g_loss"] = g["g_loss"] + cfg.lambda_alpha * extra["g_alpha"]
            g.update(extra)
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
        # The learning rate here is the recipe's; a decaying schedule scales it during the
        # run (cloud.training.loop), from the same recipe.
        lr, betas = self.recipe.lr, (self.recipe.beta1, 0.999)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=betas)
        return [opt_g, opt_d]
