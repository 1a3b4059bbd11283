"""``dancebooth bench edge pose``: end-to-end pose fps per backend next to raw invoke time.

End to end means what the node does per frame: JPEG decode -> backend (pre-processing,
inference, post-processing, the person mask where the backend makes one) -> following
the dancer -> repair/smoothing (when ``edge.smoothing`` is installed) -> PNG-encoding
the dancer's mask, as the node puts it in the packet. ``--person-mask off`` runs
BlazePose without its segmentation output, for the cost of the mask.

The input is video-like (``samples.swaying``): a real photo of a person on a 640x480
canvas, moved a few pixels and degrees per frame like a swaying dancer and
JPEG-encoded, so tracking has to follow real motion; or any video file (``--video``).
Every few frames each model is also invoked bare, outside the frame's time: that raw
time, weighted by how often each model ran per frame, is what the end-to-end time is
compared with.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import cv2
import numpy as np
from rich.console import Console
from rich.progress import track

from edge.frames import Frame, Image
from edge.pose import create_estimator, samples
from edge.pose.base import PoseError, PoseEstimator
from edge.pose.edgetpu import Unusable
from edge.pose.interpreter import TfliteModel
from edge.pose.tracking import FollowDancer
from edge.settings import BlazePoseSettings, MoveNetSettings, PoseNetSettings, SmoothingSettings
from protocol.masks import encode_mask

logger = logging.getLogger(__name__)

PROGRESS = Console(stderr=True)  # progress on stderr keeps the figures on stdout clean
Smoother = Callable[[np.ndarray, np.ndarray, float], object]


def swaying_frames(
    n: int, quality: int = 80, people: int = 1, size: tuple[int, int] = (640, 480)
) -> list[bytes]:
    """``n`` JPEG frames (``size``, 640x480 by default) of one (or two) photographed people
    swaying."""
    w, h = size
    try:
        return [_jpeg(img, quality) for img in samples.swaying(n, w, h, people=people)]
    except PoseError as exc:
        raise click.ClickException(f"{exc}; or pass --video FILE") from None


def decode_jpeg(data: bytes) -> Image:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise click.ClickException("a benchmark frame is not a decodable JPEG")
    return np.asarray(img, dtype=np.uint8)


def _jpeg(img: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise click.ClickException("JPEG encoding failed")
    return bytes(buf)


def video_frames(path: Path, n: int, width: int, height: int, quality: int) -> list[bytes]:
    cap = cv2.VideoCapture(str(path))
    out: list[bytes] = []
    while len(out) < n:
        ok, img = cap.read()
        if not ok:
            break
        out.append(_jpeg(cv2.resize(img, (width, height)), quality))
    cap.release()
    if not out:
        raise click.ClickException(f"no frames could be read from {path}")
    return out


def make_smoother(fps: float) -> tuple[Smoother | None, str]:
    """The repair + smoothing stage if ``edge.smoothing`` exists here, else why not."""
    try:
        smoothing = importlib.import_module("edge.smoothing")
    except ImportError:
        return None, "repair/smoothing not included (edge.smoothing is not installed here)"
    try:
        pipeline = smoothing.KeypointPipeline(SmoothingSettings(), fps)
        # One trial frame, so a stage that cannot run here is reported, not hit mid-run.
        pipeline.process(np.zeros((17, 3), np.float32), np.zeros((4, 3), np.float32), 0.0)
        pipeline.reset()
    except Exception as exc:  # an API or settings this benchmark does not know
        return None, f"repair/smoothing not included (edge.smoothing: {exc!r})"
    process: Smoother = pipeline.process
    return process, "repair/smoothing included (edge.smoothing)"


@dataclass
class Run:
    label: str
    frames: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time (all threads): what load cannot inflate
    stage_s: dict[str, float] = field(default_factory=dict)
    people: int = 0
    masks: int = 0  # frames whose dancer came with a person mask
    invokes: dict[str, int] = field(default_factory=dict)
    pipeline_invoke_s: float = 0.0
    raw_ms: dict[str, float] = field(default_factory=dict)

    def raw_per_frame_ms(self) -> float:
        total = sum(self.invokes[k] * self.raw_ms[k] for k in self.raw_ms)
        return total / max(self.frames, 1)


def tflite_models(est: PoseEstimator) -> dict[str, TfliteModel]:
    models = getattr(est, "tflite_models", None)
    return dict(models) if isinstance(models, dict) else {}


def run_pipeline(
    est: PoseEstimator,
    jpegs: list[bytes],
    smoother: Smoother | None,
    label: str,
    warmup: int,
    raw_every: int = 5,
) -> Run:
    """Time every stage per frame; every ``raw_every`` frames, also time one bare
    ``invoke()`` of each model (outside the frame's time), so the raw figure sees the
    same machine load as the pipeline does."""
    follow = FollowDancer(est)
    for i in range(min(warmup, len(jpegs))):
        follow(Frame(i, 0, decode_jpeg(jpegs[i])))
    follow.reset()
    models = tflite_models(est)
    for m in models.values():
        m.invokes, m.invoke_s = 0, 0.0
    raw_s = dict.fromkeys(models, 0.0)
    raw_n = 0
    run = Run(label, stage_s={"decode": 0.0, "pose": 0.0, "track": 0.0, "smooth": 0.0, "mask": 0.0})
    clock = time.perf_counter
    for seq, data in enumerate(track(jpegs, description=label, transient=True, console=PROGRESS)):
        c0 = time.process_time()
        t0 = clock()
        img = decode_jpeg(data)
        t1 = clock()
        people = est.estimate(Frame(seq, time.monotonic_ns(), img))
        t2 = clock()
        sel = follow.tracker.select(people, img.shape[1], img.shape[0])
        t3 = clock()
        if smoother is not None and sel.person is not None:
            smoother(sel.person.keypoints, sel.person.extras, seq / 30.0)
        t4 = clock()
        if sel.person is not None and sel.person.mask is not None:
            encode_mask(sel.person.mask)
            run.masks += 1
        t5 = clock()
        for k, dt in zip(
            ("decode", "pose", "track", "smooth", "mask"),
            (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4),
            strict=True,
        ):
            run.stage_s[k] += dt
        run.wall_s += t5 - t0
        run.cpu_s += time.process_time() - c0
        run.people += sel.person is not None
        if seq % raw_every == 0:
            raw_n += 1
            for k, m in models.items():
                t6 = clock()
                m.invoke()  # on the input this frame left in the interpreter
                raw_s[k] += clock() - t6
    run.frames = len(jpegs)
    run.invokes = {k: m.invokes for k, m in models.items()}
    run.pipeline_invoke_s = sum(m.invoke_s for m in models.values())
    run.raw_ms = {k: v / max(raw_n, 1) * 1000 for k, v in raw_s.items()}
    return run


def report(run: Run) -> None:
    ms = run.wall_s / run.frames * 1000
    raw = run.raw_per_frame_ms()
    stages = "  ".join(f"{k} {v / run.frames * 1000:.2f}" for k, v in run.stage_s.items())
    runs = ", ".join(f"{k} ×{v}" for k, v in run.invokes.items())
    click.echo(f"{run.label}")
    click.echo(
        f"  end-to-end   {run.frames / run.wall_s:7.1f} fps  {ms:6.2f} ms/frame  "
        f"(dancer found in {run.people}/{run.frames} frames, with a mask in {run.masks})"
    )
    click.echo(
        f"  cpu time     {run.cpu_s / run.frames * 1000:6.2f} ms/frame (all threads; "
        f"wall/cpu {run.wall_s / max(run.cpu_s, 1e-9):.2f})"
    )
    click.echo(f"  stages ms    {stages}")
    click.echo(f"  model runs   {runs}")
    click.echo(
        "  invoke ms    "
        + "  ".join(f"{k} {v:.2f}" for k, v in run.raw_ms.items())
        + f"  -> {raw:.2f} ms/frame raw ({1000 / raw:.1f} fps)"
        if raw > 0
        else "  invoke ms    n/a"
    )
    if raw > 0:
        inside = run.pipeline_invoke_s / run.frames * 1000
        click.echo(
            f"  overhead     {100 * (ms / raw - 1):+6.1f} % over raw invoke "
            f"(invoke inside the pipeline: {inside:.2f} ms/frame)"
        )


def explain_blazepose(threads_options: tuple[int, ...] = (1, 2), repeats: int = 50) -> None:
    """Raw invoke time of each BlazePose model by thread count, with and without XNNPACK
    (LiteRT's default CPU delegate): where the time goes when a goal is missed."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from edge.pose.blazepose import DETECTOR_MODEL, LANDMARK_MODEL
    from edge.pose.models import model_path

    rng = np.random.default_rng(0)
    for name in (DETECTOR_MODEL, LANDMARK_MODEL):
        path = str(model_path(name))
        cells = []
        for threads in threads_options:
            for xnn in (True, False):
                resolver = (
                    OpResolverType.AUTO
                    if xnn
                    else (OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
                )
                it = Interpreter(
                    model_path=path, num_threads=threads, experimental_op_resolver_type=resolver
                )
                it.allocate_tensors()
                inp = it.get_input_details()[0]
                it.set_tensor(inp["index"], rng.random(inp["shape"], dtype=np.float32))
                model = TfliteModel(it)
                model.invoke()
                t0 = time.perf_counter()
                for _ in range(repeats):
                    model.invoke()
                ms = (time.perf_counter() - t0) / repeats * 1000
                cells.append(f"{threads} thr {'XNNPACK' if xnn else 'builtin'} {ms:6.2f} ms")
        click.echo(f"  {name:26s} " + "  ".join(cells))


def backend_settings(
    backends: tuple[str, ...],
    threads: int,
    device: str,
    model: Path | None,
    model_dir: Path | None,
    person_mask: tuple[str, ...] = ("on",),
) -> list[tuple[str, Any]]:
    """(label, settings) of each backend to run; blazepose once per ``person_mask``
    ("on"/"off"); movenet and posenet take ``device`` and, unless ``model`` names one,
    Coral's model for it from the model cache."""
    out: list[tuple[str, Any]] = []
    for backend in backends:
        if backend == "blazepose":
            for mask in person_mask:
                settings = BlazePoseSettings(threads=threads, person_mask=mask == "on")
                out.append((f"blazepose  threads={threads} person mask {mask}", settings))
            continue
        cls = MoveNetSettings if backend == "movenet" else PoseNetSettings
        other = cls(model_path=model, model_dir=model_dir, device=device, threads=threads)
        out.append((f"{backend} {device} threads={threads}", other))
    return out


def run_label(label: str, est: PoseEstimator) -> str:
    """The label with what actually runs: the model file, and a fallback if one was taken."""
    inner = getattr(est, "inner", est)  # a CPU fallback wraps the backend
    path = getattr(getattr(inner, "settings", None), "model_path", None)
    if isinstance(path, Path):
        label += f" {path.name}"
    return label if est.describe() == est.name else f"{label} [{est.describe()}]"


def parse_size(value: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in value.lower().split("x"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise click.BadParameter(f"{value} is outside 16x16 .. 4096x4096")
    return w, h


@click.command("pose")
@click.option("--frames", default=600, show_default=True, help="Frames per backend.")
@click.option("--warmup", default=30, show_default=True)
@click.option(
    "--threads",
    "threads_list",
    multiple=True,
    type=int,
    default=(2,),
    show_default=True,
    help="Interpreter threads; repeat to compare them.",
)
@click.option(
    "--video",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Frames from this video (resized to --size).",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    type=click.Choice(["blazepose", "movenet", "posenet"]),
    default=("blazepose",),
    show_default=True,
    help="Backend to run; repeat to compare them. movenet/posenet use Coral's models from "
    "the model cache (dancebooth edge fetch-models --coral).",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "edgetpu"]),
    default="cpu",
    show_default=True,
    help="Where movenet/posenet run (edgetpu: probed first, as a node does).",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="This .tflite for movenet/posenet instead of Coral's from the cache.",
)
@click.option(
    "--model-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="The model cache (default: $DANCEBOOTH_MODEL_DIR or ~/.cache/dancebooth/models).",
)
@click.option(
    "--size",
    default="640x480",
    show_default=True,
    help="Frame size, e.g. 1280x720: posenet then picks its 16:9 model.",
)
@click.option(
    "--people",
    type=click.IntRange(1, 2),
    default=1,
    show_default=True,
    help="People in the built-in input (2: a friend beside the dancer).",
)
@click.option(
    "--person-mask",
    "person_mask",
    multiple=True,
    type=click.Choice(["on", "off"]),
    default=("on",),
    show_default=True,
    help="BlazePose with / without its person mask; repeat to compare them.",
)
@click.option(
    "--explain", is_flag=True, help="Also time the BlazePose models alone: threads, XNNPACK on/off."
)
def bench_pose(
    frames: int,
    warmup: int,
    threads_list: tuple[int, ...],
    video: Path | None,
    backends: tuple[str, ...],
    device: str,
    model: Path | None,
    model_dir: Path | None,
    size: str,
    people: int,
    person_mask: tuple[str, ...],
    explain: bool,
) -> None:
    """Pose fps per backend, end to end, next to the raw invoke time."""
    w, h = parse_size(size)
    if model is not None and len(set(backends) - {"blazepose"}) != 1:
        raise click.UsageError("--model needs exactly one of --backend movenet / posenet")
    jpegs = (
        video_frames(video, frames, w, h, 80)
        if video
        else swaying_frames(frames, 80, people, (w, h))
    )
    _, smooth_note = make_smoother(30.0)
    source = video or f"{people} photographed {'person' if people == 1 else 'people'}, swaying"
    click.echo(f"input: {len(jpegs)} JPEG frames {w}x{h} ({source}); {smooth_note}")
    for threads in threads_list:
        runs = backend_settings(backends, threads, device, model, model_dir, person_mask)
        for label, settings in runs:
            try:
                est = create_estimator(settings, frame_size=(w, h))
            except PoseError as exc:
                click.echo(f"{label}: skipped: {exc}")
                continue
            if isinstance(est, Unusable):  # the Edge TPU failed its probe: nothing to time
                click.echo(f"{label}: skipped: Edge TPU unusable: {est.reason}")
                continue
            label = run_label(label, est)
            smoother, _ = make_smoother(30.0)  # fresh filter state per run
            with est:
                run = run_pipeline(est, jpegs, smoother, label, warmup)
            report(run)
    if hasattr(os, "getloadavg"):
        click.echo("load average at the end: " + " ".join(f"{v:.1f}" for v in os.getloadavg()))
    if explain:
        click.echo("BlazePose models alone (random input, 50 invokes each):")
        try:
            explain_blazepose()
        except PoseError as exc:
            click.echo(f"  skipped: {exc}")
