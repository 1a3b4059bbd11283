"""Reference dances: the keypoint sequences (with music) every visitor is rendered
performing, stored as plain files an operator can read and correct.

On disk, ``reference_videos/<name>/`` holds:

- ``dance.json``: metadata (name, title, bpm, fps, frame size, frame count, audio
  file, source, free-form metadata) and the format version;
- ``keypoints.csv``: one row per frame, ``frame`` then ``<joint>_x, <joint>_y,
  <joint>_v`` for the 17 COCO joints and the 4 foot extras, in pixels of the stated
  frame size; ``_v`` is visibility/confidence in [0, 1]. To correct a bad frame, open
  the CSV in a spreadsheet or editor, find the row by its ``frame`` number, fix the
  numbers (a joint you cannot place: set its ``_v`` to 0) and save; the file is
  checked fully on load and every error names the row and column;
- the music track (``music.m4a``) if the dance has one, trimmed like the keypoints
  (beat 1 of a synthetic dance at t = 0; a video's first beat is ``first_beat_s``);
- ``video.mp4`` for a dance built from a video: the source, normalised to H.264
  (yuv420p, faststart, no audio) at its own size capped at 720p and at the dance's
  constant ``fps``, so video frame ``i`` is keypoint row ``i``; the size is
  ``width`` x ``height``. Side-by-side renditions and the stage screen show it;
- ``repaired.csv`` for a dance built from a video: ``frame`` then one 0/1 column per
  joint (the order of ``keypoints.csv``), 1 where the joint was not seen and was
  imputed (the preview marks these);
- in ``dance.json``, for a dance built from a video: ``first_beat_s`` (seconds into the
  music) and ``quality`` (:class:`common.reference_add.QualityReport`: dancer found,
  imputed share per joint group, people seen, feet visible, motion, refusal reasons and
  whether ``--force`` kept it anyway).
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from protocol.ids import check_id
from protocol.skeleton import (
    COCO_KEYPOINTS,
    EXTRA_KEYPOINTS,
    NUM_EXTRA_KEYPOINTS,
    NUM_KEYPOINTS,
    Keypoints,
)

FORMAT_VERSION: Final = 1
REFERENCE_DIR: Final = Path(__file__).resolve().parent.parent / "reference_videos"
JOINTS: Final = (*COCO_KEYPOINTS, *EXTRA_KEYPOINTS)
COLUMNS: Final = ("frame", *(f"{j}_{c}" for j in JOINTS for c in ("x", "y", "v")))


class ReferenceDanceError(ValueError):
    """A reference dance that cannot be found, read or saved; the message says where."""


@dataclass
class ReferenceDance:
    name: str
    title: str
    bpm: float | None
    fps: float
    width: int
    height: int
    keypoints: Keypoints  # [T, 17, 3] float32: x, y pixels, visibility/confidence
    extras: Keypoints  # [T, 4, 3] heels and foot tips
    audio: Path | None = None  # the music file, if any
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # e.g. "synthetic routine seed=3" or the video it was built from
    video: Path | None = None  # the normalised source video (video.mp4), if kept
    first_beat_s: float | None = None  # seconds into the music
    quality: dict[str, Any] | None = None  # a QualityReport (common.reference_add)
    repaired: npt.NDArray[np.bool_] | None = None  # [T, 21]: True where imputed

    def __post_init__(self) -> None:
        check_id(self.name, "reference dance name")
        self.keypoints = np.array(self.keypoints, dtype=np.float32)  # own, writable copies
        self.extras = np.array(self.extras, dtype=np.float32)
        n = len(self.keypoints)
        if self.keypoints.shape != (n, NUM_KEYPOINTS, 3) or n == 0:
            raise ReferenceDanceError(f"{self.name}: keypoints must be [T>0, 17, 3]")
        if self.extras.shape != (n, NUM_EXTRA_KEYPOINTS, 3):
            raise ReferenceDanceError(f"{self.name}: extras must be [{n}, 4, 3]")
        if not (self.fps > 0 and self.width > 0 and self.height > 0):
            raise ReferenceDanceError(f"{self.name}: fps, width and height must be positive")
        if self.repaired is not None:
            self.repaired = np.asarray(self.repaired, dtype=bool)
            if self.repaired.shape != (n, len(JOINTS)):
                raise ReferenceDanceError(f"{self.name}: repaired must be [{n}, {len(JOINTS)}]")

    @property
    def frames(self) -> int:
        return len(self.keypoints)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def save(self, root: str | Path = REFERENCE_DIR) -> Path:
        """Write ``root/<name>/`` (replacing a previous version); returns that directory."""
        target = Path(root) / self.name
        target.mkdir(parents=True, exist_ok=True)
        audio_name = _place(self.audio, target, "music")
        video_name = _place(self.video, target, "video")
        (target / "keypoints.csv").write_text(_to_csv(self.keypoints, self.extras))
        if self.repaired is not None:
            (target / "repaired.csv").write_text(_mask_csv(self.repaired))
        meta = {
            "format": FORMAT_VERSION,
            "name": self.name,
            "title": self.title,
            "bpm": self.bpm,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "frames": self.frames,
            "duration_s": round(self.duration_s, 3),
            "audio": audio_name,
            "source": self.source,
            "keypoints": "keypoints.csv",
            "metadata": self.metadata,
        }
        if video_name is not None:
            meta["video"] = video_name
        if self.repaired is not None:
            meta["repaired"] = "repaired.csv"
        if self.first_beat_s is not None:
            meta["first_beat_s"] = round(self.first_beat_s, 3)
        if self.quality is not None:
            meta["quality"] = self.quality
        (target / "dance.json").write_text(json.dumps(meta, indent=2) + "\n")
        if audio_name is not None:
            self.audio = target / audio_name
        if video_name is not None:
            self.video = target / video_name
        return target


def _place(src: Path | None, target: Path, stem: str) -> str | None:
    """Copy ``src`` into ``target`` as ``stem`` + its suffix (unless already there)."""
    if src is None:
        return None
    name = stem + src.suffix
    if src.resolve() != (target / name).resolve():
        shutil.copyfile(src, target / name)
    return name


def _mask_csv(mask: npt.NDArray[np.bool_]) -> str:
    rows = ["frame," + ",".join(JOINTS)]
    rows += [f"{i}," + ",".join("1" if v else "0" for v in row) for i, row in enumerate(mask)]
    return "\n".join(rows) + "\n"


def _mask_from_csv(path: Path, frames: int) -> npt.NDArray[np.bool_] | None:
    """The repaired-joint mask; ``None`` when it no longer matches the keypoints."""
    try:
        rows = [r.split(",") for r in path.read_text().splitlines()[1:] if r.strip()]
        mask = np.array([[c.strip() == "1" for c in r[1:]] for r in rows], dtype=bool)
    except (OSError, UnicodeDecodeError):
        return None
    return mask if mask.shape == (frames, len(JOINTS)) else None


def _to_csv(kps: Keypoints, extras: Keypoints) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    both = np.concatenate([kps, extras], axis=1)
    for i, frame in enumerate(both):
        w.writerow(
            [i, *(f"{v:.2f}" if k % 3 < 2 else f"{v:.3g}" for k, v in enumerate(frame.reshape(-1)))]
        )
    return buf.getvalue()


def _from_csv(path: Path, frames: int) -> np.ndarray:
    try:
        rows = list(csv.reader(path.read_text().splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReferenceDanceError(f"{path}: cannot read: {exc}") from None
    if not rows or tuple(c.strip() for c in rows[0]) != COLUMNS:
        raise ReferenceDanceError(f"{path}: header must be {', '.join(COLUMNS[:4])}, ...")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if len(body) != frames:
        raise ReferenceDanceError(f"{path}: {len(body)} frame rows, dance.json says {frames}")
    out = np.zeros((frames, len(JOINTS) * 3), dtype=np.float32)
    for i, row in enumerate(body):
        line = i + 2
        if len(row) != len(COLUMNS):
            raise ReferenceDanceError(
                f"{path} line {line}: {len(row)} columns, need {len(COLUMNS)}"
            )
        if row[0].strip() != str(i):
            raise ReferenceDanceError(f"{path} line {line}: frame {row[0]!r}, expected {i}")
        for k, cell in enumerate(row[1:]):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            bad_v = k % 3 == 2 and not 0.0 <= value <= 1.0
            if not math.isfinite(value) or bad_v:
                raise ReferenceDanceError(
                    f"{path} line {line}, column {COLUMNS[k + 1]}: {cell!r} is not "
                    + ("a visibility in [0, 1]" if k % 3 == 2 else "a finite number")
                )
            out[i, k] = value
    return out.reshape(frames, len(JOINTS), 3)


def reference_dir(name_or_path: str | Path, root: str | Path = REFERENCE_DIR) -> Path:
    """The directory of a dance given by name (under ``root``) or by path."""
    path = Path(name_or_path)
    if (path / "dance.json").is_file():
        return path
    candidate = Path(root) / str(name_or_path)
    if (candidate / "dance.json").is_file():
        return candidate
    known = ", ".join(d.name for d in _dirs(Path(root))) or "none"
    raise ReferenceDanceError(f"no reference dance {str(name_or_path)!r} (known: {known})")


def load_reference(name_or_path: str | Path, root: str | Path = REFERENCE_DIR) -> ReferenceDance:
    """Read a reference dance by name or directory, checking every value."""
    target = reference_dir(name_or_path, root)
    try:
        meta = json.loads((target / "dance.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReferenceDanceError(f"{target / 'dance.json'}: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise ReferenceDanceError(f"{target / 'dance.json'}: not a format-{FORMAT_VERSION} dance")
    try:
        frames = int(meta["frames"])
        joints = _from_csv(target / str(meta.get("keypoints", "keypoints.csv")), frames)
        audio = target / meta["audio"] if meta.get("audio") else None
        if audio is not None and not audio.is_file():
            raise ReferenceDanceError(f"{target}: audio file {meta['audio']} is missing")
        video = target / meta["video"] if meta.get("video") else None
        if video is not None and not video.is_file():
            raise ReferenceDanceError(f"{target}: video file {meta['video']} is missing")
        repaired = (
            _mask_from_csv(target / meta["repaired"], frames) if meta.get("repaired") else None
        )
        beat = meta.get("first_beat_s")
        return ReferenceDance(
            name=str(meta["name"]),
            title=str(meta.get("title", meta["name"])),
            bpm=None if meta.get("bpm") is None else float(meta["bpm"]),
            fps=float(meta["fps"]),
            width=int(meta["width"]),
            height=int(meta["height"]),
            keypoints=joints[:, :NUM_KEYPOINTS],
            extras=joints[:, NUM_KEYPOINTS:],
            audio=audio,
            metadata=dict(meta.get("metadata", {})),
            source=str(meta.get("source", "")),
            video=video,
            first_beat_s=None if beat is None else float(beat),
            quality=meta.get("quality"),
            repaired=repaired,
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, ReferenceDanceError):
            raise
        raise ReferenceDanceError(f"{target / 'dance.json'}: bad or missing field {exc}") from None


def _dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(d for d in root.iterdir() if (d / "dance.json").is_file())


def list_references(root: str | Path = REFERENCE_DIR) -> list[ReferenceDance]:
    """Every reference dance under ``root``, by name."""
    return [load_reference(d) for d in _dirs(Path(root))]
