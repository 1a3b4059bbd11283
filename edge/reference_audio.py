"""The music of a reference dance: the video's audio, trimmed like the keypoints, stored
as AAC, and its tempo and first beat.

Beat tracking uses librosa (``librosa.beat.beat_track``: onset strength, tempo from its
autocorrelation, dynamic-programming beat placement; Ellis 2007). It is maintained
(releases through 2026), BSD-licensed, and its wheels install here on top of what the
edge already has (numpy, scipy, numba); madmom has had no release since 2018 and aubio
since 2019. It is imported only here, and only when the dance has music: without it
(``pip install 'dancebooth[reference]'``) a dance is still added, with a note and no
tempo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from common.reference_add import ReferenceAddError

logger = logging.getLogger(__name__)

RATE = 44100  # the stored music's sample rate (stereo AAC, as the renderer writes)
BEAT_RATE = 22050  # librosa's own default analysis rate
HOP = 128
Samples = npt.NDArray[np.float32]  # [2, N]


@dataclass
class Beat:
    bpm: float
    first_beat_s: float
    beats: int


def read_audio(path: Path, start_s: float, end_s: float, origin_s: float = 0.0) -> Samples | None:
    """The first audio track between ``start_s`` and ``end_s`` (seconds after the first
    video frame at ``origin_s``), as stereo float32 at :data:`RATE`; ``None`` if none."""
    import av

    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
        chunks: list[Samples] = []
        first: float | None = None
        for frame in c.decode(stream):
            for out in resampler.resample(frame):
                if first is None:
                    first = float(out.time) if out.time is not None else 0.0
                chunks.append(out.to_ndarray().astype(np.float32))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().astype(np.float32))
    if not chunks:
        return None
    audio = np.concatenate(chunks, axis=1)
    offset = (first or 0.0) - origin_s  # audio starting after the video: pad with silence
    a = round((start_s - offset) * RATE)
    b = round((end_s - offset) * RATE)
    if a < 0:
        audio = np.concatenate([np.zeros((2, -a), np.float32), audio], axis=1)
        b, a = b - a, 0
    return np.ascontiguousarray(audio[:, a:b])


def write_aac(samples: Samples, target: Path) -> Path:
    """Stereo AAC (128 kb/s) in an .m4a container."""
    import av

    with av.open(str(target), "w", format="mp4") as out:
        stream: Any = out.add_stream("aac", rate=RATE)
        stream.layout = "stereo"
        stream.bit_rate = 128_000
        step = stream.codec_context.frame_size or 1024
        for k in range(0, samples.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, k : k + step]), format="fltp", layout="stereo"
            )
            frame.sample_rate = RATE
            frame.pts = k
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return target


def estimate_beat(samples: Samples) -> Beat | None:
    """Tempo and first beat of the music; ``None`` when too short or too quiet to tell.

    Raises :class:`ImportError` when librosa is not installed."""
    import librosa

    mono = samples.mean(axis=0)
    if len(mono) < 3 * RATE or float(np.abs(mono).max(initial=0.0)) < 1e-3:
        return None
    y = librosa.resample(mono, orig_sr=RATE, target_sr=BEAT_RATE)
    # Onsets averaged over the mel bands (librosa's beat_track takes the median, which is
    # zero for music whose beat sits in a few bands: a cowbell, a clean synth click).
    # A 128-sample hop (5.8 ms) rather than 512: beats land on hop frames, and at 23 ms
    # a 120 bpm click track read as 117.45 bpm.
    onsets = librosa.onset.onset_strength(y=y, sr=BEAT_RATE, hop_length=HOP)
    tempo, frames = librosa.beat.beat_track(
        onset_envelope=onsets, sr=BEAT_RATE, hop_length=HOP, units="time"
    )
    if len(frames) < 3 or not float(np.atleast_1d(tempo)[0]) > 0:
        return None
    bpm = 60.0 / float(np.median(np.diff(frames)))
    return Beat(bpm=round(bpm, 2), first_beat_s=round(float(frames[0]), 3), beats=len(frames))


def music(
    video: Path, start_s: float, end_s: float, origin_s: float, target: Path
) -> tuple[Path | None, Beat | None, str | None]:
    """Store the trimmed music at ``target``: the file, its beat and a note, if any."""
    try:
        samples = read_audio(video, start_s, end_s, origin_s)
    except (ValueError, OSError) as exc:
        raise ReferenceAddError(f"{video.name}: cannot read its audio track: {exc}") from None
    if samples is None or samples.shape[1] == 0:
        return None, None, "the video has no audio track: no music stored"
    path = write_aac(samples, target)
    try:
        beat = estimate_beat(samples)
    except ImportError:
        return path, None, "tempo not estimated: pip install 'dancebooth[reference]' (librosa)"
    if beat is None:
        return path, None, "no steady beat found in the music"
    return path, beat, None
