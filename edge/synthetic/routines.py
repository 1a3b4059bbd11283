"""The shipped reference dances: named, beat-aligned routines with their music, generated
deterministically into the reference-dance format (:mod:`common.reference`)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from common.reference import REFERENCE_DIR, ReferenceDance
from edge.synthetic.body import BodyShape
from edge.synthetic.dances import routine
from edge.synthetic.music import MusicStyle, encode_m4a, synthesize
from edge.synthetic.visitor import Performance
from protocol.skeleton import NUM_KEYPOINTS


@dataclass(frozen=True)
class Routine:
    title: str
    bpm: float
    seed: int
    moves: tuple[str, ...]
    music: MusicStyle


ROUTINES: dict[str, Routine] = {
    "wave-party": Routine(
        "Wave Party",
        112,
        1,
        (
            "sway",
            "arm_wave:l",
            "arm_wave:r",
            "raise_the_roof",
            "slide:l",
            "spin:l",
            "disco_point:l",
            "disco_point:r",
            "slide:r",
        ),
        MusicStyle(root_hz=110.0, progression="pop"),
    ),
    "disco-steps": Routine(
        "Disco Steps",
        120,
        2,
        (
            "step_touch:l",
            "step_touch:r",
            "disco_point:r",
            "slide:r",
            "march",
            "kick:l",
            "kick:r",
            "shimmy",
            "back_shake:l",
            "raise_the_roof",
        ),
        MusicStyle(root_hz=98.0, progression="funk", swing=0.1),
    ),
    "spin-groove": Routine(
        "Spin Groove",
        96,
        3,
        ("sway", "shimmy", "spin:r", "squat_pump", "back_shake:r", "arm_wave:r", "march", "spin:l"),
        MusicStyle(root_hz=87.3, progression="minor", arp_level=0.22),
    ),
}
DEFAULT_SIZE = 512
DEFAULT_FPS = 30.0


def generate_reference(
    name: str,
    *,
    width: int = DEFAULT_SIZE,
    height: int = DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
    audio_dir: Path | None = None,
) -> ReferenceDance:
    """Dance ``name`` of :data:`ROUTINES` danced by the standard body, with its music
    (written to ``audio_dir``, a temporary directory by default)."""
    if name not in ROUTINES:
        raise ValueError(f"unknown routine {name!r}; known: {', '.join(sorted(ROUTINES))}")
    r = ROUTINES[name]
    choreo = routine(r.seed, r.bpm, r.moves)
    performance = Performance(BodyShape(), choreo)
    seen = performance.observed(width, height, fps, choreo.duration)
    out = Path(audio_dir or tempfile.mkdtemp(prefix="dancebooth-ref-"))
    audio = encode_m4a(synthesize(r.bpm, choreo.duration, r.music, r.seed), out / f"{name}.m4a")
    shape = performance.shape
    return ReferenceDance(
        name=name,
        title=r.title,
        bpm=r.bpm,
        fps=fps,
        width=width,
        height=height,
        keypoints=seen[:, :NUM_KEYPOINTS],
        extras=seen[:, NUM_KEYPOINTS:],
        audio=audio,
        metadata={
            "moves": list(r.moves),
            "body_height_m": shape.height,
            "camera": "booth default (edge.synthetic.camera.Camera)",
        },
        source=f"synthetic routine seed={r.seed} (dancebooth reference generate)",
    )


def generate_all(
    root: Path = REFERENCE_DIR,
    names: list[str] | None = None,
    *,
    width: int = DEFAULT_SIZE,
    height: int = DEFAULT_SIZE,
    fps: float = DEFAULT_FPS,
) -> list[Path]:
    """Generate and save routines (all by default) under ``root``; returns their directories."""
    out = []
    with tempfile.TemporaryDirectory(prefix="dancebooth-ref-") as tmp:
        for name in names or list(ROUTINES):
            dance = generate_reference(
                name, width=width, height=height, fps=fps, audio_dir=Path(tmp)
            )
            out.append(dance.save(root))
    return out
