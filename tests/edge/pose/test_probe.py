"""The Edge TPU start-up probe: a runtime that segfaults or hangs while loading, made
here with real shared libraries whose constructors crash or hang (as a libedgetpu built
against another TensorFlow Lite does), never kills the node."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from dancebooth.cli import cli
from edge.frames import Frame
from edge.node import EdgeNode
from edge.pose import create_estimator
from edge.pose.base import PoseError
from edge.pose.coral import movenet_file
from edge.pose.edgetpu import CpuFallback, Unusable
from edge.pose.probe import probe
from edge.settings import EdgeSettings, EdgeTpuSettings, MoveNetSettings, SpoolSettings
from tests.edge.pose.coral_files import squat

CRASH = "__attribute__((constructor)) static void crash(void) { *(volatile int *)0 = 1; }\n"
HANG = (
    "#include <unistd.h>\n"
    "__attribute__((constructor)) static void hang(void) { for (;;) pause(); }\n"
)


def shared_library(tmp_path: Path, name: str, source: str) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("needs a C compiler to build the misbehaving runtime library")
    src = tmp_path / f"{name}.c"
    src.write_text(source)
    lib = tmp_path / f"lib{name}.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    return lib


def on_tpu(cache: Path, library: Path | None, **edgetpu: object) -> MoveNetSettings:
    return MoveNetSettings(
        model_path=cache / movenet_file("edgetpu"),
        device="edgetpu",
        # ai-edge-litert: installed here, so the child gets as far as loading the delegate.
        edgetpu=EdgeTpuSettings(library=library, runtime="ai-edge-litert", **edgetpu),  # type: ignore[arg-type]
    )


def test_a_segfaulting_runtime_is_reported_not_fatal(coral_cache: Path, tmp_path: Path) -> None:
    lib = shared_library(tmp_path, "crash", CRASH)
    result = probe(on_tpu(coral_cache, lib), (640, 480))
    assert not result.ok
    assert "crashed (SIGSEGV)" in result.reason and "do not match" in result.reason


def test_a_hanging_runtime_is_given_up_on(coral_cache: Path, tmp_path: Path) -> None:
    lib = shared_library(tmp_path, "hang", HANG)
    t0 = time.monotonic()
    result = probe(on_tpu(coral_cache, lib, probe_timeout_s=3.0), (640, 480))
    assert time.monotonic() - t0 < 15
    assert not result.ok and "did not finish within 3 s" in result.reason


def test_a_missing_runtime_is_reported_with_what_to_install(
    coral_cache: Path, tmp_path: Path
) -> None:
    result = probe(on_tpu(coral_cache, tmp_path / "libedgetpu.so.1"), (640, 480))
    assert not result.ok
    assert (
        "cannot load the Edge TPU" in result.reason and "infra/edgetpu/install.sh" in result.reason
    )


def test_a_working_backend_passes(coral_cache: Path) -> None:
    settings = MoveNetSettings(model_path=coral_cache / movenet_file("cpu"))
    result = probe(settings, (640, 480))
    assert result.ok, result.reason
    assert result.invoke_ms is not None and result.invoke_ms > 0
    assert result.runtime.startswith("ai-edge-litert")


def test_crash_with_cpu_fallback_runs_the_cpu_model(coral_cache: Path, tmp_path: Path) -> None:
    lib = shared_library(tmp_path, "crash", CRASH)
    est = create_estimator(on_tpu(coral_cache, lib, fallback="cpu"), frame_size=(500, 610))
    assert isinstance(est, CpuFallback)
    assert est.describe() == "movenet cpu (Edge TPU unusable)"
    assert "SIGSEGV" in est.reason
    (person,) = est.estimate(Frame(0, 0, squat()))
    assert person.score > 0.3


def test_crash_without_fallback_keeps_the_node_up_and_says_why(
    coral_cache: Path, tmp_path: Path
) -> None:
    lib = shared_library(tmp_path, "crash", CRASH)
    est = create_estimator(on_tpu(coral_cache, lib), frame_size=(640, 480))
    assert isinstance(est, Unusable)
    assert est.describe() == "movenet: Edge TPU unusable"
    with pytest.raises(PoseError, match=r"Edge TPU unusable: the runtime crashed \(SIGSEGV\)"):
        est.estimate(Frame(0, 0, squat()))


def test_a_configuration_error_is_raised_before_probing(tmp_path: Path) -> None:
    settings = MoveNetSettings(device="edgetpu", model_dir=tmp_path)
    with pytest.raises(PoseError, match="fetch-models --coral"):
        create_estimator(settings)


def test_a_node_whose_edgetpu_crashes_starts_and_says_so(coral_cache: Path, tmp_path: Path) -> None:
    lib = shared_library(tmp_path, "crash", CRASH)
    settings = EdgeSettings(
        pose=on_tpu(coral_cache, lib), spool=SpoolSettings(path=tmp_path / "spool")
    )
    node = EdgeNode(settings)  # before the probe, this process died with the child
    assert node.status().backend == "movenet: Edge TPU unusable"


def test_a_fallback_that_cannot_start_still_leaves_the_node_up(
    coral_cache: Path, tmp_path: Path
) -> None:
    lib = shared_library(tmp_path, "crash", CRASH)
    lonely = tmp_path / "models" / movenet_file("edgetpu")  # no CPU variant beside it
    lonely.parent.mkdir()
    shutil.copy(coral_cache / movenet_file("edgetpu"), lonely)
    settings = on_tpu(coral_cache, lib, fallback="cpu").model_copy(update={"model_path": lonely})
    est = create_estimator(settings)
    assert isinstance(est, Unusable)
    assert "SIGSEGV" in est.reason and "movenet_single_pose_lightning_ptq.tflite" in est.reason


def test_check_tpu_says_what_the_node_would_see(coral_cache: Path, tmp_path: Path) -> None:
    lib = shared_library(tmp_path, "crash", CRASH)
    config = tmp_path / "edge.yaml"
    pose = on_tpu(coral_cache, lib).model_dump(mode="json", exclude_none=True)
    config.write_text(yaml.safe_dump({"source": {"type": "camera"}, "pose": pose}))
    result = CliRunner().invoke(cli, ["edge", "check-tpu", "-c", str(config)])
    assert result.exit_code != 0
    assert "Edge TPU unusable: the runtime crashed (SIGSEGV)" in result.output
    config.write_text(yaml.safe_dump({"source": {"type": "camera"}}))  # blazepose
    result = CliRunner().invoke(cli, ["edge", "check-tpu", "-c", str(config)])
    assert result.exit_code != 0 and "does not use an Edge TPU" in result.output
