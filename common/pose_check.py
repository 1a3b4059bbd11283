"""Running the booth's own pose estimator (BlazePose) on rendered frames, from the cloud.

The quality gate asks "does the generated person do the pose they were asked to do?" with
the estimator the nodes run. The cloud may not import ``edge`` (import-linter), so, as the
Dances page's reference add does (:mod:`common.reference_add`), it runs a child process::

    python -m dancebooth edge pose-frames --serve

which loads the models once and then answers requests, one a line on its stdin: the path
of an ``.npz`` holding ``frames`` (``[N, H, W, 3]`` uint8 BGR) and ``index`` (``[N]``: the
frames' numbers in the video; the tracker carries a person over from frame ``i`` to
``i + 1`` only). Each answer is one JSON :class:`PoseFramesEvent` line: the best person's
COCO-17 keypoints per frame (``None`` where nobody was found), or an error.

:class:`PoseServer` is that child, kept by a worker across renditions (starting it and
loading the models costs 1.5-2 s on the booth's CPU, more than estimating a sample of
frames). The edge's in-process equivalent is :func:`edge.pose_frames.estimate_frames`
(tests, benchmarks).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from protocol.skeleton import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

Keypoints = npt.NDArray[np.float32]
Frames = npt.NDArray[np.uint8]
PoseFn = Callable[[Frames, Sequence[int]], list[Keypoints | None]]
"""``([N, H, W, 3] BGR frames, their frame numbers)`` -> per frame the best person's
``[17, 3]`` keypoints in the frame's pixels, or None."""


class PoseCheckError(RuntimeError):
    """The pose estimator could not be run on the frames; the message says what to do."""


class PoseFramesEvent(BaseModel):
    """One answer of ``edge pose-frames``."""

    event: Literal["result", "error"]
    keypoints: list[list[list[float]] | None] | None = None
    seconds: float = 0.0  # time spent estimating (model load excluded)
    message: str | None = None


def check_frames(frames: npt.ArrayLike, index: Sequence[int] | None = None) -> Frames:
    """``frames`` as ``[N, H, W, 3]`` uint8 (ValueError with the shape otherwise)."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or 0 in arr.shape[1:3]:
        raise ValueError(f"need [N, H, W, 3] uint8 BGR frames, got {arr.shape} {arr.dtype}")
    if index is not None and len(index) != len(arr):
        raise ValueError(f"{len(arr)} frames but {len(index)} frame numbers")
    return arr


def to_keypoints(rows: Sequence[list[list[float]] | None]) -> list[Keypoints | None]:
    """The answer's keypoints as arrays (ValueError on a malformed person)."""
    out: list[Keypoints | None] = []
    for row in rows:
        if row is None:
            out.append(None)
            continue
        kps = np.asarray(row, dtype=np.float32)
        if kps.shape != (NUM_KEYPOINTS, 3) or not np.isfinite(kps).all():
            raise ValueError(f"a person must be [{NUM_KEYPOINTS}, 3] finite, got {kps.shape}")
        out.append(kps)
    return out


class PoseServer:
    """The ``edge pose-frames --serve`` child, started at the first call and kept; a
    :data:`PoseFn`. Thread-safe (one request at a time); restarted after a failure."""

    def __init__(self, *, python: str = sys.executable, timeout_s: float = 120.0) -> None:
        self.python, self.timeout_s = python, timeout_s
        self._proc: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None  # a file, so a chatty child never blocks
        self._lock = threading.Lock()

    def __call__(self, frames: Frames, index: Sequence[int]) -> list[Keypoints | None]:
        arr = check_frames(frames, index)
        if len(arr) == 0:
            return []
        with self._lock, tempfile.TemporaryDirectory(prefix="dancebooth-pose-") as tmp:
            path = Path(tmp) / "frames.npz"
            np.savez(path, frames=arr, index=np.asarray(index, np.int64))
            try:
                event = self._ask(str(path))
            except PoseCheckError:
                self._stop()
                raise
        if event.event == "error" or event.keypoints is None:
            raise PoseCheckError(event.message or "the pose check failed")
        if len(event.keypoints) != len(arr):
            raise PoseCheckError(f"the pose check answered {len(event.keypoints)} of {len(arr)}")
        return to_keypoints(event.keypoints)

    def _ask(self, request: str) -> PoseFramesEvent:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(request + "\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise PoseCheckError(f"the pose check process died: {self._why(proc)}") from exc
        while True:
            ready, _, _ = select.select([proc.stdout], [], [], self.timeout_s)
            if not ready:
                raise PoseCheckError(f"the pose check took longer than {self.timeout_s:g} s")
            line = proc.stdout.readline()
            if not line:
                raise PoseCheckError(f"the pose check process ended: {self._why(proc)}")
            if line.startswith("{"):
                return PoseFramesEvent.model_validate_json(line)

    def _start(self) -> subprocess.Popen[str]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        cmd = [self.python, "-m", "dancebooth", "edge", "pose-frames", "--serve"]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        logger.info("pose check process started (pid %d)", self._proc.pid)
        return self._proc

    def _why(self, proc: subprocess.Popen[str]) -> str:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        err = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace")
        tail = " | ".join(err.strip().splitlines()[-3:])
        return f"exit {proc.returncode}: {tail or 'no message'}"

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):  # a dead child's stdin: broken pipe
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        with self._lock:
            self._stop()

    def __enter__(self) -> PoseServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
