"""The README's contact sheet: solo and side-by-side frames from a fresh demo run.

Usage: python scripts/rendition_sheet.py [OUT.png] [--dir var/sheet-demo] [--budget 120]

Runs ``dancebooth demo --once`` (a synthetic visitor captured, fine-tuned and rendered
with the booth's default layout, solo), then renders the same session again side by
side with its fine-tuned model, and puts four frames of each (cards skipped) into one
image with a caption naming the session, the model and each video's size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select

from cloud.db.engine import make_engine, session_factory
from cloud.db.models import Session
from cloud.db.states import SessionState
from cloud.jobs.pipeline import model_key, report_key
from cloud.render.inputs import clip_from_store, dance_by_name, plate_from_store
from cloud.render.rendition import make_rendition
from cloud.render.torch_generator import TorchGenerator
from cloud.render.video import RenditionTags, read_frames
from cloud.settings import RenderSettings
from cloud.storage.local import LocalStorage

TILE_H = 270
COLUMNS = 4


def run_demo(directory: Path, budget: float) -> None:
    cmd = [sys.executable, "-m", "dancebooth", "demo", "--once", "--dir", str(directory)]
    subprocess.run([*cmd, "--budget", str(budget), "--port", "0"], check=True)


def _frames(video: Path, skip: int, tail: int) -> list[np.ndarray]:
    frames = list(read_frames(video))
    body = frames[skip : len(frames) - tail] or frames
    picks = np.linspace(0, len(body) - 1, COLUMNS + 2)[1:-1].round().astype(int)
    return [body[i] for i in picks]


def _row(frames: list[np.ndarray], caption: str) -> np.ndarray:
    tiles = []
    for f in frames:
        w = round(f.shape[1] * TILE_H / f.shape[0])
        tiles.append(cv2.resize(f, (w, TILE_H), interpolation=cv2.INTER_AREA))
    row = np.hstack(tiles)
    strip = np.full((34, row.shape[1], 3), 245, np.uint8)
    cv2.putText(strip, caption, (8, 23), cv2.FONT_HERSHEY_DUPLEX, 0.6, (40, 40, 40), 1, cv2.LINE_AA)
    return np.vstack([strip, row])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/rendition-sheet.png"))
    parser.add_argument("--dir", type=Path, default=Path("var/sheet-demo"))
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--skip-demo", action="store_true", help="reuse the last run in --dir")
    args = parser.parse_args()
    if not args.skip_demo:
        run_demo(args.dir, args.budget)
    engine = make_engine(f"sqlite:///{args.dir / 'dancebooth.db'}")
    factory = session_factory(engine)
    with factory() as db:
        sid = db.scalars(select(Session.id).where(Session.state == SessionState.DELIVERED)).first()
    if sid is None:
        sys.exit(f"no delivered session in {args.dir}: did the demo finish?")
    storage = LocalStorage(args.dir / "store")
    report = json.loads(storage.get(report_key(sid)))
    settings = RenderSettings()
    fps = dance_by_name(report["dance"]).fps
    intro, outro = round(settings.intro_s * fps), round(settings.outro_s * fps)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        solo = Path(tmp) / "solo.mp4"
        solo.write_bytes(storage.get(report["video_key"]))
        weights = Path(tmp) / "best.safetensors"
        weights.write_bytes(storage.get(model_key(sid, "best.safetensors")))
        gen = TorchGenerator.from_checkpoint(weights, device="cpu")
        size = f"{report['width']}x{report['height']}"
        rows.append(
            _row(_frames(solo, intro, outro), f"solo, {size}, over the {report['backdrop']}")
        )
        sbs = make_rendition(
            gen,
            clip_from_store(storage, factory, sid),
            dance_by_name(report["dance"]),
            Path(tmp) / "sbs.mp4",
            tags=RenditionTags(sid, gen.model_version, report["dance"]),
            settings=settings,
            plate=plate_from_store(storage, factory, sid),  # as the worker renders it
            layout="side-by-side",
        )
        r = sbs.result
        caption = f"side-by-side, {r.width}x{r.height}, reference as its {sbs.reference_panel}"
        rows.append(_row(_frames(r.path, intro, outro), caption))
    width = max(row.shape[1] for row in rows)
    rows = [
        np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=245)
        for row in rows
    ]
    footer = np.full((30, width, 3), 245, np.uint8)
    note = f"dancebooth demo --once: session {sid}, {gen.model_version}, dance {report['dance']}"
    cv2.putText(footer, note, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack([*rows, footer]))
    sys.stdout.write(f"wrote {args.out}\n")
    engine.dispose()


if __name__ == "__main__":
    main()
