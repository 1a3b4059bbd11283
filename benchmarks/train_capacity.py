"""``dancebooth bench train --part capacity``: model capacity and data at equal wall-clock.

Each variant (generator width, resolution, augmentation, mask-weighted loss) is
fine-tuned from scratch on each held-out visitor for the same wall-clock budget and
scored, as rendered, on the visitor in a dance their clip never showed (the transfer
set), at one scoring resolution for all, so 128 px and 256 px models are judged on the
same pixels. From scratch, because only the 128 px, ngf 16 network has a booth
checkpoint to start from.

On a shared machine the load moves under the runs, so the variants are interleaved:
per visitor every variant runs once, in an order rotated from visitor to visitor, and
each run prints the load average it started under.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from cloud.training.config import Augment, Pix2PixConfig, Recipe
from cloud.training.corpus import CorpusSession
from cloud.training.data import FrameSet
from cloud.training.finetune import finetune
from cloud.training.loop import RunOptions

# "Augmentation on": zoom +/-10 %, shift up to 5 % of the side, rotate up to 5 degrees,
# and flips (which every variant has: they cost nothing and were on before).
AUGMENTED = Augment(scale=0.1, shift=0.05, rotate=5.0)


@dataclass(frozen=True)
class Variant:
    ngf: int
    resolution: int
    augment: bool
    mask: bool  # dancer-only, mask-weighted loss; False: full-frame L1

    @property
    def name(self) -> str:
        return (
            f"ngf {self.ngf}, {self.resolution} px, aug {'on' if self.augment else 'off'}, "
            f"{'mask' if self.mask else 'full frame'}"
        )

    def config(self) -> Pix2PixConfig:
        recipe = Recipe(augment=AUGMENTED if self.augment else Augment())
        return Pix2PixConfig.model_validate(
            {
                "resolution": self.resolution,
                "ngf": self.ngf,
                "dancer_only": self.mask,
                "recipe": recipe.model_dump(),
            }
        )


def parse_variants(text: str) -> list[Variant]:
    """``"16x128,32x256+aug-mask"``: width x resolution, then ``+aug``/``-aug`` and
    ``+mask``/``-mask`` (defaults: augmentation off, mask-weighted loss on)."""
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        head, *flags = item.replace("-", " -").replace("+", " +").split()
        ngf, _, res = head.partition("x")
        aug = "+aug" in flags
        mask = "-mask" not in flags
        out.append(Variant(int(ngf), int(res), aug, mask))
    return out


def run_capacity(
    sessions: list[tuple[CorpusSession, FrameSet]],
    variants: list[Variant],
    budget: float,
    batch_size: int,
    device: str,
    marks: list[float],
    load_average: object,
) -> dict[str, list[list[float]]]:
    """Per variant, per visitor: transfer dancer SSIM at each of ``marks`` seconds."""
    from benchmarks.train import at_time

    key = "transfer_region_ssim"
    results: dict[str, list[list[float]]] = {v.name: [] for v in variants}
    steps: dict[str, list[int]] = {v.name: [] for v in variants}
    opts = RunOptions(
        budget,
        10**9,
        batch_size=batch_size,
        eval_every_s=min(marks),
        patience=0,
        eval_at_start=True,
        device=device,
    )
    for i, (session, transfer) in enumerate(sessions):
        order = variants[i % len(variants) :] + variants[: i % len(variants)]
        for v in order:
            click.echo(f"{session.session} | {v.name}: {load_average()}")  # type: ignore[operator]
            with tempfile.TemporaryDirectory() as tmp:
                res = finetune(
                    session.shards,
                    None,
                    budget,
                    10**9,
                    work_dir=Path(tmp),
                    options=opts,
                    config=v.config(),
                    also_score={"transfer": transfer},
                )
            h = res.run.history
            results[v.name].append([at_time(h, key, t) for t in marks])
            steps[v.name].append(res.run.steps)
            click.echo(
                f"  {res.run.steps} steps; transfer dancer SSIM "
                + ", ".join(f"{t:.0f} s {at_time(h, key, t):.3f}" for t in marks)
            )
    click.echo(
        "\n| variant | "
        + " | ".join(f"transfer dancer SSIM @{t:.0f} s (median; per visitor)" for t in marks)
        + " | steps (median) |"
    )
    click.echo("|---|" + "---|" * len(marks) + "---|")
    for v in variants:
        rows = np.array(results[v.name])
        cells = [
            f"**{np.median(rows[:, j]):.3f}**; {' / '.join(f'{x:.3f}' for x in rows[:, j])}"
            for j in range(len(marks))
        ]
        click.echo(f"| {v.name} | " + " | ".join(cells) + f" | {np.median(steps[v.name]):.0f} |")
    return results
