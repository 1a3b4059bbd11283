"""Music files for tests, written with PyAV in any container/codec it encodes."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_tone(path: Path, seconds: float, *, rate: int = 22050, codec: str = "pcm_s16le") -> Path:
    """A mono 440 Hz tone of ``seconds`` (a different rate and layout than the AAC output)."""
    n = int(seconds * rate)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate) * 32767).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        stream.format = "s16"
        for start in range(0, n, 1024):
            frame = av.AudioFrame.from_ndarray(
                tone[None, start : start + 1024], format="s16", layout="mono"
            )
            frame.sample_rate = rate
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path
