"""A reference dance's music: trimmed with the keypoints, stored as AAC, its beat found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from common.reference import load_reference
from common.reference_add import AddOptions
from edge.reference_add import add_reference
from edge.reference_audio import RATE, estimate_beat, read_audio
from tests.edge import reference_fixtures as fx
from tests.edge.videos import write_video

av = pytest.importorskip("av")
pytest.importorskip("librosa")


def clicks(seconds: float, bpm: float, first_s: float) -> np.ndarray:
    """A click track: 20 ms bursts of a 1 kHz tone on every beat (mono, 44.1 kHz)."""
    t = np.arange(int(seconds * RATE)) / RATE
    out = np.zeros_like(t)
    burst = np.sin(2 * np.pi * 1000 * t[: int(0.02 * RATE)]) * np.hanning(int(0.02 * RATE))
    for beat in np.arange(first_s, seconds, 60 / bpm):
        k = int(beat * RATE)
        out[k : k + len(burst)] += burst[: len(out) - k]
    return (0.5 * out).astype(np.float32)


def _music_samples(path: Path) -> int:
    with av.open(str(path)) as f:
        return sum(frame.samples for frame in f.decode(f.streams.audio[0]))


@pytest.mark.parametrize("codec", ["aac", "mp2"])
def test_music_is_trimmed_like_the_keypoints_and_its_beat_found(tmp_path: Path, codec: str) -> None:
    kps = fx.dancer(12.0)
    suffix = "mp4" if codec == "aac" else "mkv"
    video = write_video(
        tmp_path / f"v.{suffix}",
        frames=len(kps),
        size=(fx.W, fx.H),
        audio=codec,
        track=clicks(12.0, 120, 0.1),
    )
    np.save(tmp_path / "k.npy", kps)
    options = AddOptions(
        root=tmp_path / "d", backend="replay", keypoints=tmp_path / "k.npy", start_s=1.0, end_s=11.0
    )
    result = add_reference(video, "clicks", options)
    dance = load_reference("clicks", tmp_path / "d")
    assert dance.frames == 300 and dance.audio is not None
    with av.open(str(dance.audio)) as f:
        assert f.streams.audio[0].codec_context.name == "aac"
    assert _music_samples(dance.audio) == pytest.approx(10.0 * RATE, abs=2048)
    assert dance.bpm == pytest.approx(120, rel=0.01) and result.report.bpm == dance.bpm
    # Beats of the original fall at 0.1 + k/2 s, so at 0.1 + k/2 s of the trimmed music
    # (librosa may skip a weak first one); onsets come a frame or two (~50 ms) late.
    assert dance.first_beat_s is not None and dance.first_beat_s < 1.2
    assert dance.first_beat_s % 0.5 == pytest.approx(0.1, abs=0.07)
    assert "trimmed to 1.00–11.00 s of 12.0 s" in result.report.notes

    # The keypoints are the original's frames 30..329.
    def error(first: int) -> float:
        return float(np.median(np.abs(dance.keypoints[:, :, :2] - kps[first:][:300, :17, :2])))

    assert error(30) < 0.05 and error(29) > 10 * error(30)


def test_read_audio_pads_and_cuts_to_the_span(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", frames=60, audio="aac")
    samples = read_audio(video, 0.5, 1.5)
    assert samples is not None and samples.shape == (2, RATE)
    assert read_audio(write_video(tmp_path / "s.mp4", audio=None), 0, 1) is None


def test_silence_and_no_audio_give_no_beat_and_a_note(tmp_path: Path) -> None:
    assert estimate_beat(np.zeros((2, 5 * RATE), np.float32)) is None
    video, npy = fx.clip(tmp_path, "quiet", fx.dancer(2.5), audio=None)
    options = AddOptions(root=tmp_path / "d", backend="replay", keypoints=npy)
    result = add_reference(video, "quiet", options)
    assert result.report.bpm is None and "no audio track" in " ".join(result.report.notes)
