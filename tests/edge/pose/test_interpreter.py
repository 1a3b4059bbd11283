"""Interpreter set-up: CPU vs Edge TPU delegate, pycoral, custom-op libraries, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.pose.base import PoseError
from edge.pose.interpreter import (
    TfliteModel,
    default_runtime,
    edgetpu_library,
    load_interpreter,
    runtime_order,
)
from tests.edge.pose.fakes import FakeRuntime, ModelSpec

SPEC = ModelSpec(
    (1, 4, 4, 3),
    np.uint8,
    [((1, 2), np.float32)],
    lambda x: [np.array([[x.mean(), 1.0]], np.float32)],
)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "m.tflite"
    path.write_bytes(b"TFL3")
    return path


def test_cpu_uses_no_delegate(model: Path) -> None:
    rt = FakeRuntime(SPEC)
    it = load_interpreter(model, device="cpu", runtime=rt.runtime())
    assert it.delegates == [] and it.allocated and rt.delegate_calls == []


def test_edgetpu_loads_the_delegate(model: Path) -> None:
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1"})
    it = load_interpreter(model, device="edgetpu", runtime=rt.runtime())
    assert [d.library for d in it.delegates] == [edgetpu_library()]


def test_no_edgetpu_says_what_to_install(model: Path) -> None:
    rt = FakeRuntime(SPEC)
    with pytest.raises(PoseError, match=r"Edge TPU.*libedgetpu1-std.*device: cpu"):
        load_interpreter(model, device="edgetpu", runtime=rt.runtime())


def test_pycoral_is_preferred_when_installed(model: Path) -> None:
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1"}, pycoral=True)
    it = load_interpreter(model, device="edgetpu", runtime=rt.runtime())
    assert [d.library for d in it.delegates] == ["pycoral"]
    with pytest.raises(PoseError, match="no usable Edge TPU"):
        load_interpreter(model, device="edgetpu", runtime=FakeRuntime(SPEC, pycoral=True).runtime())


def test_custom_op_library_loads_after_the_edgetpu(model: Path, tmp_path: Path) -> None:
    lib = tmp_path / "posenet_decoder.so"
    lib.write_bytes(b"\x7fELF")
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1", "posenet_decoder.so"}, pycoral=True)
    it = load_interpreter(model, device="edgetpu", custom_op_libraries=[lib], runtime=rt.runtime())
    assert [d.library for d in it.delegates] == [edgetpu_library(), str(lib)]


def test_missing_or_unloadable_custom_op_library(model: Path, tmp_path: Path) -> None:
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1"})
    with pytest.raises(PoseError, match="project-posenet"):
        load_interpreter(
            model,
            device="edgetpu",
            custom_op_libraries=[tmp_path / "nope.so"],
            runtime=rt.runtime(),
        )
    lib = tmp_path / "posenet_decoder.so"
    lib.write_bytes(b"not for this arch")
    with pytest.raises(PoseError, match="custom-op library"):
        load_interpreter(model, device="edgetpu", custom_op_libraries=[lib], runtime=rt.runtime())


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(PoseError, match="does not exist"):
        load_interpreter(tmp_path / "absent.tflite", runtime=FakeRuntime(SPEC).runtime())


def test_real_runtime_refuses_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    with pytest.raises(PoseError, match="cannot load"):
        load_interpreter(bad, runtime=default_runtime())


def test_model_wrapper_runs_and_times(model: Path) -> None:
    m = TfliteModel(load_interpreter(model, runtime=FakeRuntime(SPEC).runtime()))
    assert m.input_size == (4, 4)
    (out,) = m.run(np.full((4, 4, 3), 7, np.uint8), [0])
    assert out[0, 0] == pytest.approx(7.0)
    assert m.invokes == 1 and m.invoke_s >= 0


def test_a_chosen_edgetpu_is_passed_on(model: Path) -> None:
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1"})
    load_interpreter(model, device="edgetpu", edgetpu_device="usb:1", runtime=rt.runtime())
    assert rt.delegate_options == [{"device": "usb:1"}]
    coral = FakeRuntime(SPEC, available={"libedgetpu.so.1"}, pycoral=True)
    load_interpreter(model, device="edgetpu", edgetpu_device="pci:0", runtime=coral.runtime())
    assert coral.pycoral_devices == ["pci:0"]


def test_on_an_edgetpu_tflite_runtime_is_preferred() -> None:
    # libedgetpu's community builds are paired with tflite-runtime of the same TensorFlow.
    assert runtime_order("auto", "edgetpu") == ["tflite-runtime", "ai-edge-litert"]
    assert runtime_order("auto", "cpu") == ["ai-edge-litert", "tflite-runtime"]
    assert runtime_order("ai-edge-litert", "edgetpu") == ["ai-edge-litert"]
    assert default_runtime("ai-edge-litert").describe().startswith("ai-edge-litert ")


def test_a_chosen_runtime_that_is_not_installed_says_so() -> None:
    try:
        import tflite_runtime  # noqa: F401
    except ImportError:
        with pytest.raises(PoseError, match=r"no TFLite runtime is installed \(tflite-runtime\)"):
            default_runtime("tflite-runtime")
    else:
        pytest.skip("tflite-runtime is installed here")


def test_an_edgetpu_library_path_is_loaded_instead_of_the_system_one(
    model: Path, tmp_path: Path
) -> None:
    lib = tmp_path / "libedgetpu.so.1"
    rt = FakeRuntime(SPEC, available={"libedgetpu.so.1"}, pycoral=True)
    it = load_interpreter(model, device="edgetpu", edgetpu_library_path=lib, runtime=rt.runtime())
    assert [d.library for d in it.delegates] == [str(lib)]  # not through pycoral either
