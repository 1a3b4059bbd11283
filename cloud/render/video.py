"""Rendition video: a browser-playable, marked, tagged H.264 MP4 written frame by frame.

:class:`VideoEncoder` takes BGR frames (the project's OpenCV order) one at a time, so
a rendition is never held in memory whole. Each frame gets the visible
"AI-generated" mark burnt in (:mod:`cloud.render.mark`); the stream is H.264 yuv420p
(what every browser decodes) in an MP4 whose index (``moov``) is moved before the
media data (``+faststart``) so playback starts before the download ends. The
reference's music, read with PyAV from any format it decodes, is resampled to
stereo 44.1 kHz AAC and interleaved with the video as frames arrive (after
``music_delay_s`` of silence, the intro card's length, so it starts with the dance); at
:meth:`VideoEncoder.close` it is cut, or padded with silence, to the video's length.

Machine-readable tags (:class:`RenditionTags`) say the video is synthetic and name
the session and model version. They go into the MP4 ``udta``/``keys`` metadata
(``+use_metadata_tags``), where PyAV, ffprobe and exiftool read them back;
:func:`probe` is that read-back.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from cloud.render.errors import VideoError
from cloud.render.mark import AiMark, Corner

logger = logging.getLogger(__name__)

AUDIO_RATE = 44100
_AAC_FRAME = 1024


@dataclass(frozen=True)
class RenditionTags:
    """What a rendition says about itself, machine-readably."""

    session_id: str
    model_version: str
    dance: str = ""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def metadata(self) -> dict[str, str]:
        return {
            "synthetic": "true",
            "ai_generated": "true",
            "session_id": self.session_id,
            "model_version": self.model_version,
            "dance": self.dance,
            "creation_time": self.created,
            "comment": (
                f"AI-generated (synthetic) video: dancebooth motion transfer, session "
                f"{self.session_id}, model {self.model_version}"
            ),
        }


def _rate(fps: float) -> Fraction:
    if not np.isfinite(fps) or fps <= 0 or fps > 240:
        raise VideoError(f"fps must be in (0, 240], got {fps}")
    return Fraction(fps).limit_denominator(1001)


class _Music:
    """The music track, decoded lazily and handed out in AAC-sized stereo chunks."""

    def __init__(self, path: Path, delay_samples: int = 0) -> None:
        self._silence = max(0, delay_samples)  # leading silence (an intro card's length)
        try:
            self._container = av.open(str(path))
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"cannot read the music track {path}: {exc}") from None
        if not self._container.streams.audio:
            self._container.close()
            raise VideoError(f"{path} has no audio stream; give a music file")
        self._frames = self._decode()
        self._fifo = av.AudioFifo()
        self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        self.exhausted = False

    def _decode(self) -> Iterator[Any]:
        try:
            yield from self._container.decode(audio=0)
        except av.FFmpegError as exc:
            logger.warning("music track stops early (%s); the rest is silence", exc)

    def read(self, samples: int) -> av.AudioFrame:
        """Exactly ``samples`` samples: the leading silence, the music while it lasts, then
        silence."""
        lead = min(samples, self._silence)
        self._silence -= lead
        samples -= lead
        while self._fifo.samples < samples and not self.exhausted:
            frame = next(self._frames, None)
            for out in self._resampler.resample(frame):  # None flushes the resampler
                self._fifo.write(out)
            self.exhausted = frame is None
        got = (
            self._fifo.read(min(samples, self._fifo.samples))
            if samples and self._fifo.samples
            else None
        )
        have = got.samples if got is not None else 0
        data = np.zeros((2, lead + samples), dtype=np.float32)
        if got is not None:
            data[:, lead : lead + have] = got.to_ndarray()
        out = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
        out.sample_rate = AUDIO_RATE
        return out

    def close(self) -> None:
        self._container.close()


class VideoEncoder:
    """Write BGR frames to a marked, tagged, faststart H.264 MP4 with optional music.

    Use as a context manager; leaving it with an exception removes the partial file.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        fps: float,
        tags: RenditionTags,
        *,
        music: str | Path | None = None,
        music_delay_s: float = 0.0,
        crf: int = 23,
        preset: str = "veryfast",
        mark: bool = True,
        mark_corner: Corner = "top-left",
        threads: int | None = None,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise VideoError(f"H.264 yuv420p needs even positive sizes, got {width}x{height}")
        self.path, self.width, self.height = Path(path), width, height
        self.rate = _rate(fps)
        self.frames = 0
        self._mark = AiMark(width, height, corner=mark_corner) if mark else None
        delay = round(max(0.0, music_delay_s) * AUDIO_RATE)
        self._music = _Music(Path(music), delay) if music is not None else None
        self._audio_samples = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        options = {"movflags": "+faststart+use_metadata_tags"}
        self._out = av.open(str(self.path), "w", format="mp4", options=options)
        self._out.metadata.update(tags.metadata())
        self._video = self._out.add_stream("libx264", rate=self.rate)
        self._video.width, self._video.height = width, height
        self._video.pix_fmt = "yuv420p"
        # x264 threads: one for generator-sized frames (1000+ fps on one core; more threads
        # only fight the generator's OpenMP workers), two from 480 rows up, where one thread
        # is the bottleneck: 1280x720 encodes at 15-18 fps on one thread, 31-32 on two
        # (this 2-core machine at load 20; frame threads also overlap the generator).
        if threads is None:
            threads = 1 if height < 480 else min(2, os.cpu_count() or 1)
        self._video.options = {"crf": str(crf), "preset": preset, "threads": str(threads)}
        self._audio = None
        if self._music is not None:
            self._audio = self._out.add_stream("aac", rate=AUDIO_RATE)
            self._audio.layout = "stereo"
            self._audio.bit_rate = 128_000
        self._closed = False

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: npt.NDArray[np.uint8]) -> None:
        """Append one ``height x width x 3`` BGR uint8 frame (the mark is added here)."""
        if self._closed:
            raise VideoError("the encoder is closed")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise VideoError(
                f"frame must be {self.height}x{self.width}x3 uint8, got {frame.shape} {frame.dtype}"
            )
        img = self._mark.apply(frame) if self._mark is not None else frame
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
        vf.pts = self.frames
        vf.time_base = 1 / self.rate
        self._out.mux(self._video.encode(vf))
        self.frames += 1
        self._feed_audio(final=False)

    def _feed_audio(self, *, final: bool) -> None:
        # Keep the audio up to the video's clock so the two interleave in the file.
        if self._music is None or self._audio is None:
            return
        wanted = round(self.frames / self.rate * AUDIO_RATE)
        while self._audio_samples < wanted:
            n = min(_AAC_FRAME, wanted - self._audio_samples)
            if n < _AAC_FRAME and not final:
                break
            chunk = self._music.read(n)
            chunk.pts = self._audio_samples
            chunk.time_base = Fraction(1, AUDIO_RATE)
            self._out.mux(self._audio.encode(chunk))
            self._audio_samples += n

    def close(self) -> None:
        """Finish the file: pad/cut the music to the video length, flush, write the index."""
        if self._closed:
            return
        if self.frames == 0:
            self.abort()
            raise VideoError("no frames were written; nothing to encode")
        self._feed_audio(final=True)
        self._out.mux(self._video.encode(None))
        if self._audio is not None:
            self._out.mux(self._audio.encode(None))
        self._out.close()
        self._release()
        logger.info("wrote %s: %d frames at %s fps", self.path, self.frames, self.rate)

    def abort(self) -> None:
        """Stop without a file: a half-written rendition is never left behind."""
        if self._closed:
            return
        try:
            self._out.close()
        except av.FFmpegError:  # a broken muxer must not mask the original error
            logger.debug("muxer close failed during abort", exc_info=True)
        self._release()
        self.path.unlink(missing_ok=True)

    def _release(self) -> None:
        self._closed = True
        if self._music is not None:
            self._music.close()


@dataclass(frozen=True)
class VideoInfo:
    """What a finished MP4 holds, as a player would see it."""

    frames: int
    width: int
    height: int
    fps: float
    pix_fmt: str
    video_codec: str
    audio_codec: str | None
    audio_duration_s: float | None
    tags: dict[str, str]
    faststart: bool


def top_level_boxes(path: str | Path) -> list[str]:
    """The MP4's top-level box types, in file order (``moov`` before ``mdat`` = faststart)."""
    boxes = []
    with open(path, "rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            skip = size - 8
            if size == 1:
                skip = struct.unpack(">Q", f.read(8))[0] - 16
            elif size == 0:
                boxes.append(kind.decode("latin-1"))
                break
            boxes.append(kind.decode("latin-1"))
            f.seek(skip, 1)
    return boxes


def probe(path: str | Path) -> VideoInfo:
    """Decode ``path`` fully and report frames, size, fps, audio, tags and faststart."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.decode(video=0))
        audio = c.streams.audio[0] if c.streams.audio else None
        duration = (
            float(audio.duration * audio.time_base)
            if audio is not None and audio.duration is not None and audio.time_base
            else None
        )
        boxes = top_level_boxes(path)
        return VideoInfo(
            frames=frames,
            width=v.codec_context.width,
            height=v.codec_context.height,
            fps=float(v.average_rate or 0),
            pix_fmt=str(v.codec_context.pix_fmt),
            video_codec=v.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            audio_duration_s=duration,
            tags=dict(c.metadata),
            faststart="moov" in boxes
            and "mdat" in boxes
            and boxes.index("moov") < boxes.index("mdat"),
        )


def read_frames(path: str | Path) -> Iterator[npt.NDArray[np.uint8]]:
    """Decoded BGR frames of a video, one at a time."""
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            yield np.asarray(frame.to_ndarray(format="bgr24"), dtype=np.uint8)
