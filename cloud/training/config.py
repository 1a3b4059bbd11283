"""The one typed config of a training run, saved inside every checkpoint it writes.

:class:`Pix2PixConfig` is what a checkpoint *is* (resolution, widths, what the generator
draws) plus its :class:`Recipe`, how it was (or is being) trained: learning rate and
schedule, weight average, loss weights, augmentation. Every training code path reads
these values from the model's config and nowhere else; a fine-tune keeps its booth
checkpoint's network and swaps in its own recipe (:meth:`Pix2PixConfig.with_recipe`).

Checkpoints written before the recipe existed stored one flat config (``lr``,
``gan_mode``, ``lambda_l1``, ``lambda_fm`` beside the network's fields); they are read
back into this shape (:meth:`Pix2PixConfig.migrate`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

GanMode = Literal["lsgan", "vanilla"]
Schedule = Literal["constant", "decay"]


class Augment(BaseModel):
    """Random changes to each training sample's pose map, frame and mask, all alike."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Mirror half the samples; the pose map is redrawn with left and right swapped.
    flip: bool = True
    scale: float = Field(0.0, ge=0, le=0.5, description="zoom by up to +/- this share")
    shift: float = Field(0.0, ge=0, le=0.5, description="move by up to this share of the side")
    rotate: float = Field(0.0, ge=0, le=45, description="rotate by up to +/- this many degrees")

    @property
    def geometric(self) -> bool:
        return bool(self.scale or self.shift or self.rotate)


class Recipe(BaseModel):
    """How a run trains. The defaults are the per-visitor fine-tune's, each measured in
    ``docs/time-to-quality.md``; ``train-base`` passes the booth's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # 5x pix2pix's 2e-4: after 60 s on a visitor, held-out dancer SSIM 0.86 at 1e-3
    # against 0.82 at 2e-4, and 2e-3 gained nothing more (warm start and scratch alike).
    lr: float = Field(1e-3, gt=0)
    beta1: float = Field(0.5, ge=0, lt=1)
    # "decay": pix2pix's schedule, the rate holds for the first half of the run (budget
    # or step cap, whichever ends it sooner), then falls linearly towards zero.
    schedule: Schedule = "constant"
    # Decay of the generator's weight average (0: keep none): +0.004-0.011 dancer SSIM
    # over the raw weights at 30-120 s, and no step-to-step jumps.
    ema: float = Field(0.995, ge=0, lt=1)
    gan_mode: GanMode = "lsgan"
    lambda_l1: float = Field(100.0, ge=0)
    lambda_fm: float = Field(10.0, ge=0)
    # Weight of the alpha channel's L1 against the person mask (dancer-only models).
    lambda_alpha: float = Field(100.0, ge=0)
    augment: Augment = Augment()


# How ``train-base`` trains a booth checkpoint: pix2pix's 2e-4, decaying over the second
# half of the budget (booth-128.md).
BOOTH_RECIPE = Recipe(lr=2e-4, schedule="decay")

_LEGACY_RECIPE_KEYS = ("lr", "beta1", "gan_mode", "lambda_l1", "lambda_fm")


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
    temporal: bool = False
    dropout: bool = False
    # The generator draws the person only, RGB + alpha, to be composited over the booth's
    # clean plate; it learns from the person region and the mask. False: the whole frame.
    dancer_only: bool = False
    recipe: Recipe = Recipe()

    @model_validator(mode="before")
    @classmethod
    def migrate(cls, data: Any) -> Any:
        """A flat config of a checkpoint format 1 file: its training fields into a recipe
        (keeping what that run used, lr 2e-4 and all)."""
        if isinstance(data, dict) and "recipe" not in data:
            legacy = {k: data[k] for k in _LEGACY_RECIPE_KEYS if k in data}
            if legacy:
                data = {k: v for k, v in data.items() if k not in legacy}
                # Format 1 booth runs decayed and kept no weight average (booth-128.md).
                data["recipe"] = {"schedule": "decay", "ema": 0.0, **legacy}
        return data

    @model_validator(mode="after")
    def _supported(self) -> Pix2PixConfig:
        if self.temporal and self.dancer_only:
            raise ValueError("a temporal model draws the whole frame: set dancer_only false")
        return self

    @property
    def out_channels(self) -> int:
        return 4 if self.dancer_only else 3

    def with_recipe(self, recipe: Recipe) -> Pix2PixConfig:
        return self.model_copy(update={"recipe": recipe})
