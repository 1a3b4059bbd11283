"""``dancebooth model ...``: train the booth checkpoint, fine-tune a session, inspect files."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from cloud.training.base import DEFAULT_BOOTH_CHECKPOINT, train_base
from cloud.training.checkpoint import checkpoint_summary, load_checkpoint
from cloud.training.config import BOOTH_RECIPE, Pix2PixConfig, Recipe
from cloud.training.data import build_frameset, list_shards, split
from cloud.training.errors import TrainingError
from cloud.training.finetune import finetune
from cloud.training.grid import sample_grid, save_png
from cloud.training.loop import Progress as StepProgress
from cloud.training.loop import RunOptions


class ProgressBar:
    """A rich bar over the larger of (time spent / budget, steps / step cap), with ETA."""

    def __init__(self, label: str) -> None:
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.bar.add_task(label, total=1000, info="starting")

    def __enter__(self) -> ProgressBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, p: StepProgress) -> None:
        done = max(p.elapsed_s / p.budget_s, p.step / max(1, p.max_steps))
        info = f"step {p.step}/{p.max_steps}"
        if p.losses.get("g_l1") is not None:
            info += f" L1 {p.losses['g_l1']:.3f}"
        if p.metrics:
            info += (
                f" held-out SSIM {p.metrics['ssim']:.3f} (dancer {p.metrics['region_ssim']:.3f})"
            )
        self.bar.update(self.task, completed=min(1000, round(done * 1000)), info=info)


def _options(
    batch_size: int, eval_every: float, device: str, seed: int, patience: int
) -> RunOptions:
    return RunOptions(
        budget_s=0,
        max_steps=0,
        batch_size=batch_size,
        eval_every_s=eval_every,
        patience=patience,
        device=device,
        seed=seed,
    )


def _fail(exc: Exception) -> NoReturn:
    raise click.ClickException(str(exc)) from exc


common = [
    click.option(
        "--budget",
        "budget_s",
        type=float,
        default=300.0,
        show_default=True,
        help="Wall-clock budget in seconds (decoding included).",
    ),
    click.option("--batch-size", type=int, default=4, show_default=True),
    click.option(
        "--eval-every",
        type=float,
        default=30.0,
        show_default=True,
        help="Seconds between held-out evaluations (and checkpoints).",
    ),
    click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N"),
    click.option("--seed", type=int, default=0),
    click.option(
        "--recipe",
        "recipe_json",
        default=None,
        help="The training recipe as JSON (or @FILE): learning rate, schedule, weight "
        "average, loss weights, augmentation (cloud.training.config.Recipe). "
        "[default: train-base's booth recipe, finetune's measured one]",
    ),
    click.option(
        "--lr",
        type=click.FloatRange(min=0.0, min_open=True),
        default=None,
        help="Override the recipe's learning rate.",
    ),
    click.option(
        "--ema",
        type=click.FloatRange(0.0, 1.0, max_open=True),
        default=None,
        help="Override the recipe's weight-average decay (the average is evaluated and "
        "kept; 0: none).",
    ),
    click.option(
        "--decay/--no-decay",
        default=None,
        help="Override the recipe's schedule: the learning rate falls linearly to zero "
        "over the second half of the budget, or holds.",
    ),
]


def make_recipe(
    default: Recipe,
    recipe_json: str | None,
    lr: float | None,
    ema: float | None,
    decay: bool | None,
) -> Recipe:
    """The command's recipe: ``default`` or ``--recipe``, with the single-value overrides."""
    recipe = default
    if recipe_json:
        text = Path(recipe_json[1:]).read_text() if recipe_json.startswith("@") else recipe_json
        try:
            recipe = Recipe.model_validate_json(text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--recipe") from exc
    update: dict[str, Any] = {}
    if lr is not None:
        update["lr"] = lr
    if ema is not None:
        update["ema"] = ema
    if decay is not None:
        update["schedule"] = "decay" if decay else "constant"
    return Recipe.model_validate({**recipe.model_dump(), **update})


def schedule(*, patience: int) -> Callable[[Any], Any]:
    """``--patience`` with a command's own default."""

    def add(f: Any) -> Any:
        return click.option(
            "--patience",
            type=click.IntRange(min=0),
            default=patience,
            show_default=True,
            help="Stop after N evaluations without improvement (0: never).",
        )(f)

    return add


def with_common(f: Any) -> Any:
    for option in reversed(common):
        f = option(f)
    return f


@click.group()
def model() -> None:
    """Train the booth checkpoint, fine-tune a visitor's session, inspect checkpoints."""


@model.command("train-base")
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    required=True,
    help="Corpus directory (synthetic booth or captured sessions).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=DEFAULT_BOOTH_CHECKPOINT, show_default=True
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace --out if it exists (the committed booth checkpoint is kept otherwise).",
)
@click.option("--resolution", type=click.Choice(["128", "256", "512"]), default="128")
@click.option("--ngf", type=int, default=16, show_default=True, help="Generator width.")
@click.option("--ndf", type=int, default=16, show_default=True, help="Discriminator width.")
@click.option(
    "--dancer-only/--full-frame",
    default=False,
    show_default=True,
    help="Draw the person only (RGB + alpha, learnt from the corpus's person masks) or "
    "the whole frame.",
)
@click.option("--max-steps", type=int, default=100_000, show_default=True)
@click.option("--role", default="staff", show_default=True, help="Corpus sessions to train on.")
@click.option("--sessions", "limit", type=int, default=None, help="Use at most N sessions.")
@schedule(patience=0)  # a booth run: the budget decides
@with_common
def train_base_cmd(
    corpus: Path,
    out: Path,
    overwrite: bool,
    resolution: str,
    ngf: int,
    ndf: int,
    dancer_only: bool,
    max_steps: int,
    role: str,
    limit: int | None,
    patience: int,
    budget_s: float,
    batch_size: int,
    eval_every: float,
    device: str,
    seed: int,
    recipe_json: str | None,
    lr: float | None,
    ema: float | None,
    decay: bool | None,
) -> None:
    """Train the booth checkpoint on a corpus; write it with its model card. Resumable."""
    if out.exists() and not overwrite:
        raise click.ClickException(
            f"{out} exists (the committed booth checkpoint is the default --out): "
            "give another --out, or --overwrite to replace it"
        )
    recipe = make_recipe(BOOTH_RECIPE, recipe_json, lr, ema, decay)
    cfg = Pix2PixConfig.model_validate(
        {
            "resolution": int(resolution),
            "ngf": ngf,
            "ndf": ndf,
            "dancer_only": dancer_only,
            "recipe": recipe.model_dump(),
        }
    )
    command = (
        "dancebooth model " + shlex.join(sys.argv[sys.argv.index("train-base") :])
        if "train-base" in sys.argv
        else ""
    )
    try:
        with ProgressBar("train-base") as bar:
            res = train_base(
                corpus,
                out,
                config=cfg,
                budget_s=budget_s,
                max_steps=max_steps,
                options=_options(batch_size, eval_every, device, seed, patience),
                role=role,
                limit=limit,
                command=command,
                progress_callback=bar,
            )
    except TrainingError as exc:
        _fail(exc)
    m = res.run.metrics
    click.echo(
        f"{res.checkpoint} ({res.checkpoint.stat().st_size / 1e6:.1f} MB, sha256 {res.sha256})"
    )
    click.echo(
        f"card {res.card}; {res.sessions} sessions, {res.frames_train} frames, "
        f"{res.run.steps} steps in {res.run.elapsed_s:.0f} s ({res.run.stopped})"
    )
    click.echo(
        f"held-out SSIM {m['ssim']:.3f}, dancer SSIM {m['region_ssim']:.3f}, "
        f"PSNR {m['psnr']:.2f} dB"
    )


@model.command("finetune")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--booth",
    type=click.Path(path_type=Path),
    default=DEFAULT_BOOTH_CHECKPOINT,
    show_default=True,
    help="Booth checkpoint to start from.",
)
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Where checkpoints go; run again with the same one to resume.",
)
@click.option("--max-steps", type=int, default=5000, show_default=True)
@click.option(
    "--grid",
    type=click.Path(path_type=Path),
    default=None,
    help="Save a PNG of held-out frames: pose | generated | truth.",
)
@schedule(patience=4)
@with_common
def finetune_cmd(
    sources: tuple[Path, ...],
    booth: Path,
    work_dir: Path,
    max_steps: int,
    grid: Path | None,
    patience: int,
    budget_s: float,
    batch_size: int,
    eval_every: float,
    device: str,
    seed: int,
    recipe_json: str | None,
    lr: float | None,
    ema: float | None,
    decay: bool | None,
) -> None:
    """Fine-tune the booth checkpoint on a session (a directory of shards, or shard files)."""
    try:
        shards = [s for src in sources for s in list_shards(src)]
        with ProgressBar("finetune") as bar:
            res = finetune(
                shards,
                booth,
                budget_s,
                max_steps,
                work_dir=work_dir,
                options=_options(batch_size, eval_every, device, seed, patience),
                recipe=make_recipe(Recipe(), recipe_json, lr, ema, decay),
                progress_callback=bar,
            )
        if grid is not None:
            best = load_checkpoint(res.checkpoint).build_model()
            _, held = split(build_frameset(shards, best.config.resolution))
            save_png(grid, sample_grid(best, held))
    except TrainingError as exc:
        _fail(exc)
    m = res.run.metrics
    click.echo(
        f"{res.checkpoint}: steps {res.run.start_step}->{res.run.steps} in "
        f"{res.run.elapsed_s:.0f} s ({res.run.stopped}); {res.frames_train} train / "
        f"{res.frames_held_out} held-out frames; data {res.run.data_share:.1%} of wall time"
    )
    click.echo(
        f"held-out: SSIM {m['ssim']:.3f} MS-SSIM {m['ms_ssim']:.3f} PSNR {m['psnr']:.2f} dB;"
        f" dancer: SSIM {m['region_ssim']:.3f} MS-SSIM {m['region_ms_ssim']:.3f} "
        f"PSNR {m['region_psnr']:.2f} dB"
    )
    if grid is not None:
        click.echo(f"grid {grid}")


@model.command("info")
@click.argument("checkpoint", type=click.Path(path_type=Path))
def info_cmd(checkpoint: Path) -> None:
    """Verify a checkpoint and print its config, step, state and sha256 as JSON."""
    try:
        click.echo(json.dumps(checkpoint_summary(checkpoint), indent=2))
    except TrainingError as exc:
        _fail(exc)
