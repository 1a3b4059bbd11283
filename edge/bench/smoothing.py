"""``dancebooth bench edge smoothing``: repair and smoothing measured against ground truth.

Synthetic visitors (``edge.synthetic``) dance 15 s; the estimator-like noise model
corrupts their keypoints; each method's output is scored against the truth: mean joint
error (% torso), acceleration error (px/frame²), error on the joints the repairer had
to impute, lag (frames) and cost per frame. ``--tune`` grid-searches the One Euro and
offline parameters under the lag goal, which is how the defaults were chosen.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import numpy.typing as npt
from rich.progress import Progress

from edge.bench.smoothing_candidates import CANDIDATES, run_candidate
from edge.bench.smoothing_report import ONLINE, clip_rows, format_clips, format_worst, real_goals
from edge.bench.smoothing_sets import SETS, Capture, by_clip, real_captures, synthetic_captures
from edge.repair_offline import repair_offline
from edge.settings import SmoothingSettings
from edge.smoothing import KeypointPipeline, OneEuroFilter, smooth_offline
from edge.smoothing_metrics import (
    acceleration_error,
    lag_frames,
    mean_joint_error,
    torso_lengths,
)
from protocol.skeleton import KP, NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Result:
    """An estimate of a capture and what it cost."""

    estimate: FloatArray
    cpu_us_per_frame: float


@dataclass
class Scores:
    error: float  # mean joint error, % torso
    accel: float  # mean |Δ² estimate − Δ² truth|, px/frame²
    lost_error: float  # mean joint error on the imputed joints only, % torso
    lag: float  # frames behind the truth
    cpu_us: float  # CPU time per frame

    @staticmethod
    def mean(items: list[Scores]) -> Scores:
        """Accuracy averaged over captures; cost the best capture's (the least disturbed
        by other processes on a shared machine)."""
        mean = {f: float(np.nanmean([getattr(s, f) for s in items])) for f in _FIELDS}
        mean["cpu_us"] = min(s.cpu_us for s in items)
        return Scores(**mean)


_FIELDS = ("error", "accel", "lost_error", "lag", "cpu_us")
Method = Callable[[FloatArray, float, SmoothingSettings], Result]


@dataclass
class _Online(Result):
    lost: BoolArray


def online(
    noisy: FloatArray,
    fps: float,
    settings: SmoothingSettings,
    smooth: bool = True,
    mask_out: bool = False,
) -> _Online:
    """Run :class:`KeypointPipeline` frame by frame, timing only ``process``."""
    if not smooth:  # a filter that passes everything through: repair alone
        settings = settings.model_copy(update={"min_cutoff": 1e6})
    pipeline = KeypointPipeline(settings, fps)
    out = np.empty_like(noisy)
    masks = np.zeros(len(noisy), dtype=np.int64)
    no_extras = np.zeros((0, 3), np.float32)
    frames = [np.ascontiguousarray(f, dtype=np.float32) for f in noisy]
    feet = [f[NUM_KEYPOINTS:] if len(f) > NUM_KEYPOINTS else no_extras for f in frames]
    start = time.thread_time()
    for i, frame in enumerate(frames):
        kps, ext, masks[i] = pipeline.process(frame[:NUM_KEYPOINTS], feet[i], i / fps)
        out[i, :NUM_KEYPOINTS], out[i, NUM_KEYPOINTS:] = kps, ext
    cpu = (time.thread_time() - start) / max(len(noisy), 1) * 1e6
    lost = (masks[:, None] >> np.arange(noisy.shape[1])) & 1 > 0 if mask_out else np.zeros(0, bool)
    return _Online(out, cpu, lost)


def offline(noisy: FloatArray, fps: float, settings: SmoothingSettings, repair: bool) -> Result:
    start = time.thread_time()
    out = smooth_offline(noisy, fps, settings.offline_lambda, repair=repair)
    return Result(out, (time.thread_time() - start) / len(noisy) * 1e6)


METHODS: dict[str, Method] = {
    "raw": lambda x, fps, s: Result(x.copy(), 0.0),
    "repair only": lambda x, fps, s: online(x, fps, s, smooth=False),
    "One Euro, no imputation": lambda x, fps, s: online(
        x, fps, s.model_copy(update={"repair": False})
    ),
    "One Euro + imputation": lambda x, fps, s: online(x, fps, s),
    "offline, no imputation": lambda x, fps, s: offline(x, fps, s, repair=False),
    "offline + imputation": lambda x, fps, s: offline(x, fps, s, repair=True),
}


def _forward_backward_one_euro(x: FloatArray, fps: float, s: SmoothingSettings) -> Result:
    """Offline candidate: repair, One Euro forward, then again backward (phase cancels)."""
    start = time.thread_time()
    out, _ = repair_offline(x, fps, s)
    scale = float(np.median(torso_lengths(out)))
    for order in (1, -1):
        f = OneEuroFilter(s.min_cutoff, s.beta, s.d_cutoff, fps)
        idx = range(len(out))[::order]
        for k, i in enumerate(idx):
            out[i, :, :2] = f(out[i, :, :2], k / fps, scale)
    return Result(out, (time.thread_time() - start) / len(x) * 1e6)


def _savitzky_golay(x: FloatArray, fps: float, s: SmoothingSettings, window: int) -> Result:
    """Offline candidate: repair, then a cubic Savitzky–Golay filter."""
    from scipy.signal import savgol_filter

    start = time.thread_time()
    out, _ = repair_offline(x, fps, s)
    out[:, :, :2] = savgol_filter(out[:, :, :2], window, 3, axis=0)
    return Result(out, (time.thread_time() - start) / len(x) * 1e6)


# The zero-lag smoothers smooth_offline was chosen against (``--tune`` scores them).
OFFLINE_CANDIDATES: dict[str, Method] = {
    "robust Whittaker (chosen)": METHODS["offline + imputation"],
    "forward-backward One Euro": _forward_backward_one_euro,
    "Savitzky-Golay 9 frames": lambda x, fps, s: _savitzky_golay(x, fps, s, 9),
    "Savitzky-Golay 15 frames": lambda x, fps, s: _savitzky_golay(x, fps, s, 15),
}


def score(result: Result, capture: Capture) -> Scores:
    est, truth = result.estimate, capture.truth
    return Scores(
        error=mean_joint_error(est, truth),
        accel=acceleration_error(est, truth),
        lost_error=mean_joint_error(est, truth, capture.lost),
        lag=lag_frames(est, truth),
        cpu_us=result.cpu_us_per_frame,
    )


def score_all(
    method: Method, captures: list[Capture], fps: float, settings: SmoothingSettings
) -> list[Scores]:
    """``method``'s scores on each capture, in order."""
    return [score(method(c.noisy, fps, settings), c) for c in captures]


def evaluate(
    method: Method, captures: list[Capture], fps: float, settings: SmoothingSettings
) -> Scores:
    return Scores.mean(score_all(method, captures, fps, settings))


def numpy_call_ns(repeats: int = 20000) -> float:
    """Best time of a tiny numpy call (17×2 add), printed so a figure from a loaded
    machine can be judged (≈230 ns when idle here)."""
    a, b = np.zeros((17, 2)), np.ones((17, 2))
    best = math.inf
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(repeats):
            a + b
        best = min(best, (time.perf_counter_ns() - start) / repeats)
    return best


def format_table(rows: dict[str, Scores]) -> str:
    raw = rows.get("raw")
    head = (
        f"{'method':<26}{'error %torso':>13}{'accel px/f²':>13}{'vs raw':>8}"
        f"{'imputed %torso':>16}{'lag frames':>12}{'CPU µs/frame':>14}"
    )
    lines = [head, "-" * len(head)]
    for name, s in rows.items():
        cut = f"{100 * (s.accel / raw.accel - 1):+.0f}%" if raw and name != "raw" else ""
        lines.append(
            f"{name:<26}{s.error:>13.2f}{s.accel:>13.2f}{cut:>8}{s.lost_error:>16.2f}"
            f"{s.lag:>12.2f}{s.cpu_us:>14.1f}"
        )
    return "\n".join(lines)


def goals(rows: dict[str, Scores]) -> list[str]:
    raw, best = rows["raw"], rows["One Euro + imputation"]
    cut = 1 - best.accel / raw.accel
    return [
        f"online acceleration error cut by {100 * cut:.0f}% (goal ≥ 80%): "
        + ("met" if cut >= 0.8 else "NOT met"),
        f"online mean joint error {best.error:.2f} vs raw {raw.error:.2f} %torso: "
        + ("met" if best.error < raw.error else "NOT met"),
        f"online lag {best.lag:.2f} frames (goal ≤ 1): " + ("met" if best.lag <= 1 else "NOT met"),
        f"repair + smoothing {best.cpu_us:.1f} µs CPU per frame (goal ≤ 50): "
        + ("met" if best.cpu_us <= 50 else "NOT met"),
    ]


def tune(captures: list[Capture], fps: float, base: SmoothingSettings) -> str:
    """Grid-search the One Euro (lowest error with lag ≤ 1 and accel cut ≥ 81%) and
    the offline smoothing strength (lowest error). Tune on other seeds than the
    benchmark's (``--seed 0``) so its figures are on dancers the defaults never saw."""
    raw = evaluate(METHODS["raw"], captures, fps, base)
    lines = ["min_cutoff  beta   error  accel  lag"]
    best: tuple[float, SmoothingSettings] | None = None
    for mc, beta in itertools.product((0.3, 0.5, 1.0, 1.5, 2.0, 3.0), (1, 2, 3, 4, 6, 8)):
        s = base.model_copy(update={"min_cutoff": mc, "beta": beta})
        r = evaluate(METHODS["One Euro + imputation"], captures, fps, s)
        lines.append(f"{mc:>10} {beta:>5} {r.error:>7.2f} {r.accel:>6.2f} {r.lag:>4.2f}")
        # 81% on the tuning dancers, so that 80% holds on others (the benchmark's seeds).
        if r.lag <= 1 and r.accel <= 0.19 * raw.accel and (best is None or r.error < best[0]):
            best = (r.error, s)
    if best:
        lines.append(f"best online: min_cutoff={best[1].min_cutoff} beta={best[1].beta}")
    lines.append("offline_lambda  error  accel  lag")
    for lam in (0.5, 1, 2, 5, 10, 20, 50):
        s = base.model_copy(update={"offline_lambda": lam})
        r = evaluate(METHODS["offline + imputation"], captures, fps, s)
        lines.append(f"{lam:>14} {r.error:>6.2f} {r.accel:>6.2f} {r.lag:>4.2f}")
    lines.append(f"{'offline smoother':<28}error  accel  lag")
    for name, method in OFFLINE_CANDIDATES.items():
        r = evaluate(method, captures, fps, base)
        lines.append(f"{name:<28}{r.error:>5.2f} {r.accel:>6.2f} {r.lag:>4.2f}")
    return "\n".join(lines)


def plot(capture: Capture, fps: float, settings: SmoothingSettings, path: Path) -> None:
    """A picture to check by eye: the left wrist's x and y over 5 s of the first visitor,
    truth against raw, online and offline, lost frames shaded."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise click.ClickException("--plot needs matplotlib: pip install matplotlib") from None
    wrist = KP["left_wrist"]
    frames = slice(0, min(len(capture.truth), int(5 * fps)))
    t = np.arange(len(capture.truth))[frames] / fps
    series = {"raw": capture.noisy}
    for name in ("One Euro + imputation", "offline + imputation"):
        series[name] = METHODS[name](capture.noisy, fps, settings).estimate
    fig, axes = plt.subplots(2, 1, figsize=(11, 6), sharex=True)
    for axis, (ax, label) in enumerate(zip(axes, ("x", "y"), strict=True)):
        ax.plot(t, capture.truth[frames, wrist, axis], "k-", lw=2.5, alpha=0.4, label="truth")
        for (name, est), style in zip(series.items(), ("r.", "b-", "g-"), strict=True):
            ax.plot(t, est[frames, wrist, axis], style, ms=3, lw=1.2, label=name)
        lost = capture.lost[frames, wrist]
        ax.fill_between(
            t,
            0,
            1,
            where=lost,
            color="orange",
            alpha=0.25,
            transform=ax.get_xaxis_transform(),
            label="imputed",
        )
        ax.set_ylabel(f"left wrist {label} (px)")
    axes[0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[1].set_xlabel("time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@click.command("smoothing")
@click.option(
    "--set",
    "which",
    type=click.Choice(["synthetic", "real", "all"]),
    default="all",
    show_default=True,
    help="Synthetic visitors, real motion capture (edge/bench/motions), or both.",
)
@click.option("--visitors", default=4, show_default=True, help="Synthetic visitors to score.")
@click.option("--seed", default=100, show_default=True, help="First visitor / noise seed.")
@click.option("--seeds", default=6, show_default=True, help="Noise seeds per real clip.")
@click.option("--fps", default=30.0, show_default=True)
@click.option("--duration", "duration_s", default=15.0, show_default=True, help="Seconds each.")
@click.option("--size", default="640x480", show_default=True, help="Camera WIDTHxHEIGHT.")
@click.option(
    "--extras/--no-extras",
    default=True,
    show_default=True,
    help="Include the 4 foot points (heels, toes), as BlazePose nodes send.",
)
@click.option(
    "--tune",
    "do_tune",
    is_flag=True,
    help="Grid-search the parameters instead (real set: on the clips never scored).",
)
@click.option(
    "--compare",
    is_flag=True,
    help="Also score the candidate online filters (Kalman, learned FIR) side by side.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save a PNG of a joint's track: truth, raw, online, offline.",
)
def bench_smoothing(
    which: str,
    visitors: int,
    seed: int,
    seeds: int,
    fps: float,
    duration_s: float,
    size: str,
    extras: bool,
    do_tune: bool,
    compare: bool,
    plot_path: Path | None,
) -> None:
    """Repair/smoothing accuracy (vs ground truth) and cost per frame."""
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise click.BadParameter(
            "expected WIDTHxHEIGHT, e.g. 640x480", param_hint="--size"
        ) from None
    if visitors < 1 or seeds < 1:
        raise click.BadParameter("--visitors and --seeds must be at least 1")
    settings = SmoothingSettings()
    for name in SETS if which == "all" else (which,):
        if name == "synthetic":
            captures = synthetic_captures(visitors, fps, duration_s, width, height, seed, extras)
            what = f"{visitors} synthetic visitors × {duration_s:g} s"
        else:
            captures = real_captures(seeds, fps, width, height, seed, extras, tuning=do_tune)
            clips = len(by_clip(captures))
            what = f"{clips} motion-capture clips × {seeds} noise seeds"
        frames = sum(len(c.truth) for c in captures)
        click.echo(
            f"\n{name}: {what} at {fps:g} fps ({frames} frames), {width}x{height}, "
            f"{captures[0].truth.shape[1]} joints, default NoiseModel; SmoothingSettings defaults"
        )
        if do_tune:
            click.echo(tune(captures, fps, settings))
            continue
        _report(name, captures, fps, settings, compare)
        if plot_path is not None and name == "synthetic":
            plot(captures[0], fps, settings, plot_path)
            click.echo(f"plot: {plot_path}")


def _candidate(name: str) -> Method:
    def run(x: FloatArray, fps: float, s: SmoothingSettings) -> Result:
        return Result(*run_candidate(name, x, fps, s))

    return run


def _report(
    name: str, captures: list[Capture], fps: float, settings: SmoothingSettings, compare: bool
) -> None:
    """Score every method on ``captures``: the mean table, the per-clip table, the goals."""
    per_capture: dict[str, list[Scores]] = {}
    methods = dict(METHODS)
    if compare:
        methods |= {f"{c} (numpy)": _candidate(c) for c in CANDIDATES}
    with Progress(transient=True) as progress:
        task = progress.add_task(f"{name}: methods", total=len(methods))
        for method_name, method in methods.items():
            per_capture[method_name] = score_all(method, captures, fps, settings)
            progress.advance(task)
    rows = {m: Scores.mean(s) for m, s in per_capture.items()}
    click.echo(format_table(rows))
    click.echo(
        f"(CPU time per frame: best capture; a tiny numpy call took {numpy_call_ns():.0f} ns)"
    )
    clips = clip_rows(dict(per_capture), [c.clip for c in captures])
    click.echo(format_clips(clips))
    if compare:
        click.echo(format_worst(per_capture, [c.clip for c in captures]))
    lines = goals(rows) if name == "synthetic" else real_goals(clips, rows[ONLINE].cpu_us)
    for line in lines:
        click.echo(line)
