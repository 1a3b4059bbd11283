"""The Edge TPU start-up probe: load the delegate and run one inference in a child process.

libedgetpu is a native library loaded into the interpreter's process. Built against
another TensorFlow Lite than the interpreter, it does not raise: it segfaults (Coral's
edgetpu issues 731 and 812), and a USB accelerator that never enumerates can hang the
load. Before a node trusts its Edge TPU, :func:`probe` builds the backend in a child
(``python -m edge.pose.probe``), allocates the model and runs one inference on a blank
frame. A crash, a hang or an error there is reported as a :class:`ProbeResult` with
the reason in words; the node stays up and decides what to run instead.

The child reads ``{"settings": ..., "frame_size": [w, h]}`` on stdin and answers one
line ``PROBE {"ok": ..., "reason": ..., "invoke_ms": ..., "runtime": ...}`` on stdout.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import TypeAdapter, ValidationError

from edge.frames import Frame
from edge.pose.base import PoseError
from edge.pose.interpreter import default_runtime
from edge.settings import MoveNetSettings, PoseNetSettings, PoseSettings

logger = logging.getLogger(__name__)

MARK = "PROBE "
TpuSettings = MoveNetSettings | PoseNetSettings
PAIRING = "infra/edgetpu/README.md pins a pair that loads"


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str = ""  # why the Edge TPU is unusable, in words ("" when ok)
    invoke_ms: float | None = None  # the first inference, model load included
    runtime: str = ""  # interpreter package and version the child used


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][-300:] if lines else ""


def probe(
    settings: TpuSettings,
    frame_size: tuple[int, int],
    timeout_s: float | None = None,
    python: str = sys.executable,
) -> ProbeResult:
    """Build ``settings``' backend in a child process and run one inference there."""
    timeout = timeout_s if timeout_s is not None else settings.edgetpu.probe_timeout_s
    request = json.dumps(
        {"settings": settings.model_dump(mode="json"), "frame_size": list(frame_size)}
    )
    what = f"{settings.type} on {settings.device} ({settings.model_path})"
    proc = subprocess.Popen(
        [python, "-m", "edge.pose.probe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a signal meant for the node does not reach the child first
    )
    try:
        out, err = proc.communicate(request, timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        try:
            proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # stuck in the kernel (USB): leave it behind
            logger.error("Edge TPU probe child %d does not die; leaving it", proc.pid)
        return ProbeResult(
            False,
            f"loading {what} did not finish within {timeout:g} s (an accelerator that is "
            "not enumerated, or a runtime that hangs): replug it, check `lsusb` for "
            "18d1:9302 / 1a6e:089a or `ls /dev/apex_0`, then restart the node",
        )
    if proc.returncode < 0:
        stderr = _last_line(err)
        return ProbeResult(
            False,
            f"the runtime crashed ({_signal_name(proc.returncode)}) loading {what}: libedgetpu "
            f"and the interpreter do not match; {PAIRING}"
            + (f" (last words: {stderr})" if stderr else ""),
        )
    return _parse(out, err, proc.returncode, what)


def _parse(out: str, err: str, returncode: int, what: str) -> ProbeResult:
    answers = [line[len(MARK) :] for line in out.splitlines() if line.startswith(MARK)]
    try:
        answer: dict[str, Any] = json.loads(answers[-1])
    except (IndexError, json.JSONDecodeError):
        detail = _last_line(err) or f"exit status {returncode}"
        return ProbeResult(False, f"the probe of {what} gave no answer: {detail}")
    return ProbeResult(
        bool(answer.get("ok")),
        str(answer.get("reason", "")),
        answer.get("invoke_ms"),
        str(answer.get("runtime", "")),
    )


def _answer(**fields: Any) -> None:
    sys.stdout.write(MARK + json.dumps(fields) + "\n")
    sys.stdout.flush()


def main() -> int:
    """The child: build the backend, run one inference on a blank frame, answer."""
    from edge.pose import build_estimator  # the registry, without the probe

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    try:
        request = json.loads(sys.stdin.read())
        settings = TypeAdapter(PoseSettings).validate_python(request["settings"])
        w, h = (int(v) for v in request["frame_size"])
        if not isinstance(settings, TpuSettings):
            raise TypeError(f"{settings.type} has no Edge TPU")
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        _answer(ok=False, reason=f"bad probe request: {exc}")
        return 2
    try:
        runtime = default_runtime(settings.edgetpu.runtime, settings.device).describe()
        t0 = time.perf_counter()
        with build_estimator(settings, frame_size=(w, h)) as est:
            est.estimate(Frame(0, 0, np.full((h, w, 3), 128, np.uint8)))
        ms = (time.perf_counter() - t0) * 1000
    except PoseError as exc:
        _answer(ok=False, reason=str(exc))
        return 3
    _answer(ok=True, invoke_ms=round(ms, 1), runtime=runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
