"""The booth checkpoint: pix2pix trained on the booth's staff sessions, then exported.

``train_base`` trains from scratch on every staff session of a corpus (each clip with
its own framing, each with its own held-out frames), resumably, then writes a compact
fp16 checkpoint, its model card and an entry in ``models/manifest.json``. Fine-tunes
start from this file.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The committed 128 px booth checkpoint, found from the source tree (not the CWD).
from cloud.booth_models import DEFAULT_BOOTH_CHECKPOINT as DEFAULT_BOOTH_CHECKPOINT
from cloud.training.checkpoint import load_checkpoint, save_checkpoint
from cloud.training.config import Pix2PixConfig
from cloud.training.corpus import corpus_sessions
from cloud.training.data import FrameSet, build_frameset, split
from cloud.training.loop import ProgressFn, RunOptions, RunResult, TrainingRun
from cloud.training.model import Pix2Pix
from common.machine import describe_machine

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"


@dataclass
class BaseResult:
    checkpoint: Path
    card: Path
    sha256: str
    run: RunResult
    sessions: int
    frames_train: int
    frames_held_out: int


def load_corpus(
    corpus: Path,
    resolution: int,
    *,
    role: str = "staff",
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[FrameSet, FrameSet, int]:
    """Train and held-out frames of every ``role`` session (up to ``limit``)."""
    sessions = corpus_sessions(corpus, role)[:limit]
    trains, helds = [], []
    for i, s in enumerate(sessions):
        # Few held-out frames per staff session: evaluation time is training time lost.
        train, held = split(build_frameset(s.shards, resolution), maximum=8)
        trains.append(train)
        helds.append(held)
        if progress:
            progress(i + 1, len(sessions))
    return FrameSet.concat(trains), FrameSet.concat(helds), len(sessions)


def train_base(
    corpus: Path,
    out: Path,
    *,
    config: Pix2PixConfig,
    budget_s: float,
    max_steps: int,
    options: RunOptions | None = None,
    role: str = "staff",
    limit: int | None = None,
    command: str = "",
    progress_callback: ProgressFn | None = None,
    load_progress: Callable[[int, int], None] | None = None,
) -> BaseResult:
    """Train (or resume, from ``<out>.run/``) and export the booth checkpoint to ``out``."""
    started = time.perf_counter()
    work = out.with_name(out.stem + ".run")
    last = work / "last.safetensors"
    resume = load_checkpoint(last) if last.exists() else None
    model = resume.build_model() if resume else Pix2Pix.from_config(config)
    train, held, n_sessions = load_corpus(
        corpus, model.config.resolution, role=role, limit=limit, progress=load_progress
    )
    opts = options or RunOptions(budget_s=budget_s, max_steps=max_steps)
    opts = RunOptions(**{**opts.__dict__, "budget_s": budget_s, "max_steps": max_steps})
    run = TrainingRun(
        model, train, held, work, opts, resume=resume, progress=progress_callback, started=started
    )
    result = run.fit()
    best = load_checkpoint(result.best).build_model()
    info = {
        "corpus": str(corpus),
        "role": role,
        "sessions": n_sessions,
        "frames_train": len(train),
        "frames_held_out": len(held),
        "corpus_index": corpus_summary(corpus),
    }
    state = {
        "trained_steps": result.steps,
        "wall_s": round(result.elapsed_s, 1),
        "held_out": best_metrics(result),
        "data": info,
        "machine": describe_machine(),
    }
    sha = save_checkpoint(out, best, half=True, state=state)
    card = write_card(out, sha, best.config, state, command)
    register(out, sha, best.config, state, command)
    return BaseResult(out, card, sha, result, n_sessions, len(train), len(held))


def corpus_summary(corpus: Path) -> str:
    """How the corpus was made, from its index, for the model card."""
    try:
        index = json.loads((corpus / "corpus.json").read_text())
    except (OSError, ValueError):
        return "captured sessions (no corpus.json)"
    roles: dict[str, int] = {}
    for s in index.get("sessions", []):
        roles[str(s.get("role"))] = roles.get(str(s.get("role")), 0) + 1
    return (
        f"synthetic booth corpus format {index.get('format')}: "
        f"{', '.join(f'{n} {r}' for r, n in sorted(roles.items()))}; "
        f"{index.get('resolution')} px, {index.get('fps')} fps, {index.get('duration_s')} s "
        f"each, keypoints {index.get('keypoints')} (`dancebooth synth corpus --staff "
        f"{roles.get('staff', 0)} --visitors {roles.get('visitor', 0)} --resolution "
        f"{index.get('resolution')} --out DIR`)"
    )


def best_metrics(result: RunResult) -> dict[str, float]:
    from cloud.training.loop import MONITOR

    best = max(result.history, key=lambda h: h[MONITOR])
    return {k: round(v, 4) for k, v in best.items()}


def write_card(
    out: Path, sha: str, cfg: Pix2PixConfig, state: dict[str, Any], command: str
) -> Path:
    m = state["held_out"]
    d = state["data"]
    data = (
        f"{d['sessions']} {d['role']} sessions of `{d['corpus']}`: "
        f"{d['frames_train']} train / {d['frames_held_out']} held-out frames"
    )
    full = f"{m['ssim']:.3f} / {m['ms_ssim']:.3f} / {m['psnr']:.2f} dB"
    region = f"{m['region_ssim']:.3f} / {m['region_ms_ssim']:.3f} / {m['region_psnr']:.2f} dB"
    card = out.with_suffix(".md")
    card.write_text(f"""# {out.stem}: dancebooth booth checkpoint

pix2pix pose-to-image GAN (U-Net generator + PatchGAN discriminator), the starting point
of every per-visitor fine-tune. Weights in fp16 safetensors (cast to fp32 on load).

| | |
|---|---|
| file | `{out.name}` ({out.stat().st_size / 1e6:.1f} MB) |
| sha256 | `{sha}` |
| resolution | {cfg.resolution} px |
| config | `{cfg.model_dump_json()}` |
| data | {data} |
| corpus | {d.get("corpus_index", "")} |
| steps | {state["trained_steps"]} (best held-out at step {int(m["step"])}) |
| wall time | {state["wall_s"]:.0f} s |
| machine | {state["machine"].removeprefix("machine: ")} |
| held-out SSIM / MS-SSIM / PSNR (full frame) | {full} |
| held-out SSIM / MS-SSIM / PSNR (dancer region) | {region} |
| made | {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")} |
| licence | Apache-2.0 (trained only on the project's own synthetic booth) |

Reproduce:

```
{command or "dancebooth model train-base --corpus DIR --out " + str(out)}
```

Intended use: warm start for fine-tuning on one consenting visitor's session. Trained on
synthetic people only; it renders no real person until fine-tuned.
""")
    return card


def register(
    out: Path, sha: str, cfg: Pix2PixConfig, state: dict[str, Any], command: str = ""
) -> Path:
    """Add or replace this checkpoint's entry under ``checkpoints`` in the manifest beside
    it (``models`` there belongs to the pose backends' fetched files)."""
    manifest = out.parent / MANIFEST
    raw: dict[str, Any] = json.loads(manifest.read_text()) if manifest.exists() else {"version": 1}
    # Never leave an entry of ours among the pose models (whose schema differs).
    raw["models"] = [m for m in raw.get("models", []) if m.get("kind") != "pix2pix-booth"]
    entries = [e for e in raw.get("checkpoints", []) if e.get("name") != out.stem]
    entries.append(
        {
            "name": out.stem,
            "file": out.name,
            "kind": "pix2pix-booth",
            "sha256": sha,
            "size": out.stat().st_size,
            "resolution": cfg.resolution,
            "source": {"kind": "command", "command": command or "dancebooth model train-base"},
            "licence": "Apache-2.0",
            "card": f"models/{out.with_suffix('.md').name}",
            "metrics": state["held_out"],
            "steps": state["trained_steps"],
        }
    )
    raw["checkpoints"] = sorted(entries, key=lambda e: e["name"])
    manifest.write_text(json.dumps(raw, indent=2) + "\n")
    return manifest
