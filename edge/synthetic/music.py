"""Music for reference dances: a drum + bass + arpeggio loop synthesized to the beat,
encoded as a small AAC ``.m4a`` with PyAV.

Beat 1 falls at t = 0, so a choreography built at the same tempo (moves start on
beats) stays in time with the track. Deterministic: the same style and seed give the
same samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 22050
Pcm = npt.NDArray[np.float32]

# Semitone offsets of a I-V-vi-IV (pop) and i-VI-III-VII (minor) progression.
PROGRESSIONS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "pop": ((0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)),
    "minor": ((0, 3, 7), (8, 12, 15), (3, 7, 10), (10, 14, 17)),
    "funk": ((0, 4, 10), (0, 4, 10), (5, 9, 15), (7, 11, 17)),
}


@dataclass(frozen=True)
class MusicStyle:
    root_hz: float = 110.0  # A2: the bass root; chords sit two octaves up
    progression: str = "pop"
    swing: float = 0.0  # 0-0.3: delays every second eighth note
    arp_level: float = 0.18


def _env(n: int, decay_s: float) -> Pcm:
    return np.exp(-np.arange(n) / (decay_s * SAMPLE_RATE)).astype(np.float32)


def _kick() -> Pcm:
    n = int(0.3 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    freq = 45 + 80 * np.exp(-t / 0.04)  # the pitch drop that makes it a kick
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE
    return (np.sin(phase) * _env(n, 0.12)).astype(np.float32)


def _noise_hit(rng: np.random.Generator, seconds: float, decay_s: float, bright: bool) -> Pcm:
    n = int(seconds * SAMPLE_RATE)
    noise = rng.standard_normal(n).astype(np.float32)
    if bright:  # a first difference tilts noise toward the highs: a hi-hat
        noise = np.diff(noise, prepend=0.0).astype(np.float32) * 0.5
    return noise * _env(n, decay_s)


def _tone(freq: float, seconds: float, decay_s: float, kind: str) -> Pcm:
    n = int(seconds * SAMPLE_RATE)
    phase = (np.arange(n) * freq / SAMPLE_RATE) % 1.0
    wave = 2 * phase - 1 if kind == "saw" else 4 * np.abs(phase - 0.5) - 1  # saw or triangle
    attack = np.minimum(1.0, np.arange(n) / (0.005 * SAMPLE_RATE))
    return (wave * attack * _env(n, decay_s)).astype(np.float32)


def _add(track: Pcm, sound: Pcm, at_s: float, gain: float) -> None:
    i = round(at_s * SAMPLE_RATE)
    if i >= len(track):
        return
    part = sound[: len(track) - i]
    track[i : i + len(part)] += gain * part


def synthesize(bpm: float, duration_s: float, style: MusicStyle, seed: int = 0) -> Pcm:
    """Mono float PCM at :data:`SAMPLE_RATE`: kick on every beat, clap on 2 and 4,
    hi-hats on eighths, a bass line and a chord arpeggio in sixteenths, 4 beats a bar."""
    if not 40 <= bpm <= 220 or duration_s <= 0:
        raise ValueError(f"need 40-220 bpm and a positive duration, got {bpm}, {duration_s}")
    rng = np.random.default_rng([seed, 0xB347])
    beat = 60.0 / bpm
    track = np.zeros(int(duration_s * SAMPLE_RATE), dtype=np.float32)
    kick, clap = _kick(), _noise_hit(rng, 0.2, 0.05, bright=False)
    hat = _noise_hit(rng, 0.06, 0.012, bright=True)
    chords = PROGRESSIONS[style.progression]
    for b in range(int(duration_s / beat) + 1):
        t = b * beat
        chord = chords[(b // 4) % len(chords)]
        _add(track, kick, t, 0.9)
        if b % 4 in (1, 3):
            _add(track, clap, t, 0.35)
        for half in (0, 1):
            _add(track, hat, t + half * beat * (0.5 + style.swing / 2), 0.18 if half else 0.1)
        bass_hz = style.root_hz * 2 ** (chord[0] / 12)
        _add(track, _tone(bass_hz, beat * 0.45, beat * 0.3, "saw"), t + beat / 2, 0.3)
        for k in range(4):  # arpeggio: up the chord, one note per sixteenth
            semis = chord[k % 3] + (12 if k == 3 else 0) + 24
            tone = _tone(style.root_hz * 2 ** (semis / 12), beat / 4, beat / 6, "triangle")
            _add(track, tone, t + k * beat / 4, style.arp_level)
    fade = min(len(track), int(0.5 * SAMPLE_RATE))
    track[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    peak = float(np.abs(track).max()) or 1.0
    return (track * (0.89 / peak)).astype(np.float32)  # -1 dBFS


def encode_m4a(pcm: Pcm, path: str | Path, bit_rate: int = 48_000) -> Path:
    """Write mono PCM as AAC in an ``.m4a`` (MP4 audio) file; returns the path."""
    import av  # the edge extra installs it; imported here so keypoint-only users need not

    out = Path(path)
    with av.open(str(out), "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm[None, :]), format="flt", layout="mono"
        )
        frame.rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out


def decode_audio(path: str | Path) -> tuple[Pcm, int]:
    """Decode an audio file to mono float PCM and its sample rate."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float32) for f in container.decode(stream)]
        rate = int(stream.rate or SAMPLE_RATE)
    if not chunks:
        return np.zeros(0, dtype=np.float32), rate
    pcm = np.concatenate([c.reshape(c.shape[0], -1) for c in chunks], axis=1)
    return pcm.mean(axis=0), rate
