"""Reference-add fixtures made at test time with the synthetic booth: a dancer's keypoints
(as the replay backend sees them) with and without a second person, cut-off feet and
long empty stretches, and a small video of the same length to go with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.synthetic.visitor import make_visitor

__all__ = ["make_visitor"]
from tests.edge.videos import write_video

W, H, FPS = 160, 120, 30


def dancer(seconds: float = 4.0, seed: int = 3) -> np.ndarray:
    """``[T, 21, 3]``: one synthetic visitor dancing in the middle of the booth."""
    return np.array(make_visitor(seed).observed(W, H, FPS, seconds))


def with_second_person(kps: np.ndarray, seed: int = 8, share: float = 1.0) -> np.ndarray:
    """``[T, 2, 21, 3]``: a second dancer to the right (slightly smaller), in view for the
    first ``share`` of the frames."""
    other = dancer(len(kps) / FPS, seed).copy()
    centre_x = other[:, :, 0].mean()
    other[:, :, :2] = (other[:, :, :2] - [centre_x, H]) * 0.8 + [centre_x + W * 0.35, H]
    other[int(share * len(kps)) :, :, 2] = 0.0
    other[(other[:, :, 0] < 0) | (other[:, :, 0] >= W), 2] = 0.0
    return np.stack([kps, other], axis=1)


def handover(kps: np.ndarray) -> np.ndarray:
    """``[T, 2, 21, 3]``: the dancer leaves halfway and another person dances on, elsewhere
    (to the right) — the tracker ends up following someone else."""
    both = with_second_person(kps)
    half = len(kps) // 2
    both[:half, 1, :, 2] = 0.0
    both[half:, 0, :, 2] = 0.0
    return both


def feet_cut_off(kps: np.ndarray, share: float = 0.6) -> np.ndarray:
    """The camera tilted up for the first ``share`` of frames: ankles and feet unseen."""
    out = kps.copy()
    cut = int(share * len(kps))
    out[:cut, [15, 16, 17, 18, 19, 20], 2] = 0.0
    return out


def empty_stretch(kps: np.ndarray, start_s: float, seconds: float) -> np.ndarray:
    """Nobody in view from ``start_s`` for ``seconds``."""
    out = kps.copy()
    out[round(start_s * FPS) : round((start_s + seconds) * FPS), :, 2] = 0.0
    return out


def head_and_shoulders(kps: np.ndarray) -> np.ndarray:
    out = kps.copy()
    out[:, 7:, 2] = 0.0  # elbows down unseen
    return out


def clip(tmp: Path, name: str, kps: np.ndarray, audio: str | None = "aac") -> tuple[Path, Path]:
    """A video of ``len(kps)`` frames and the keypoints file the replay backend reads."""
    video = write_video(tmp / f"{name}.mp4", frames=len(kps), size=(W, H), audio=audio)
    np.save(tmp / f"{name}.npy", kps)
    return video, tmp / f"{name}.npy"
