"""Small real video files for tests, written with PyAV: moving colour, optional tone."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(
    path: Path,
    frames: int = 20,
    fps: int = 30,
    size: tuple[int, int] = (64, 48),
    audio: str | None = "aac",
    images: list[np.ndarray] | None = None,
    track: np.ndarray | None = None,
) -> Path:
    """An MPEG-4 video (mp4 for AAC audio or none, Matroska otherwise) with a 440 Hz tone
    (or ``track``: mono float32 at 44.1 kHz); its pictures are ``images`` (BGR, all one
    size) or flat grey levels."""
    import av

    if images is not None:
        frames, size = len(images), (images[0].shape[1], images[0].shape[0])
    w, h = size
    fmt = "mp4" if audio in (None, "aac") else "matroska"
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        sound = out.add_stream(audio, rate=44100) if audio else None
        for i in range(frames):
            img = np.full((h, w, 3), (i * 10) % 255, np.uint8) if images is None else images[i]
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            t = np.arange(int(44100 * frames / fps)) / 44100
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            if track is not None:
                tone = np.asarray(track, np.float32)
            step = sound.codec_context.frame_size or 1024
            for k in range(0, len(tone), step):
                chunk = av.AudioFrame.from_ndarray(
                    tone[None, k : k + step], format="fltp", layout="mono"
                )
                chunk.sample_rate = 44100
                for packet in sound.encode(chunk):
                    out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)
    return path


def write_vfr_video(path: Path, times_s: list[float], size: tuple[int, int] = (64, 48)) -> Path:
    """A silent MP4 whose frames are shown at ``times_s`` (a variable frame rate, as
    phones record): frame ``i`` has grey level ``i``."""
    from fractions import Fraction

    import av

    w, h = size
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream("mpeg4", rate=30)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.time_base = Fraction(1, 1000)
        video.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_s):
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), i % 256, np.uint8), "bgr24")
            frame.pts = round(t * 1000)
            frame.time_base = Fraction(1, 1000)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
    return path
