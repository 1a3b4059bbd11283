"""LiteRT interpreters for the pose backends: CPU (XNNPACK) or Edge TPU, plus custom ops.

Two interpreter packages can run the models: ai-edge-litert (the edge extra's default)
and tflite-runtime. The Edge TPU is reached through its delegate library
(``libedgetpu.so.1``), which must be built against the same TensorFlow Lite as the
interpreter that loads it; a mismatched pair crashes the process instead of raising
(``infra/edgetpu/README.md`` pins a pair that loads, and :mod:`edge.pose.probe` tries
it in a child process first). pycoral's ``make_interpreter`` is used when Coral's own
pycoral is installed (the PyPI project called ``pycoral`` is unrelated and never
used). Every failure at this hardware boundary that does not crash becomes a
:class:`PoseError` that says what to install, plug in or configure.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from edge.pose.base import PoseError
from edge.pose.coral import (
    FETCH_CORAL_HINT,
    PAIRED_LIBEDGETPU,
    PAIRED_TFLITE_RUNTIME,
    cpu_variant,
    is_edgetpu_model,
)

logger = logging.getLogger(__name__)

Device = Literal["cpu", "edgetpu"]
RuntimeChoice = Literal["auto", "tflite-runtime", "ai-edge-litert"]
EDGETPU_LIBRARY = {
    "Linux": "libedgetpu.so.1",
    "Darwin": "libedgetpu.1.dylib",
    "Windows": "edgetpu.dll",
}
EDGETPU_HINT = (
    f"install the pinned pair tflite-runtime {PAIRED_TFLITE_RUNTIME} + libedgetpu1-std "
    f"{PAIRED_LIBEDGETPU} (infra/edgetpu/install.sh) and plug in the Coral USB Accelerator "
    "(or the M.2/PCIe card with its apex driver); or set device: cpu"
)
# distribution name -> module with Interpreter and load_delegate
RUNTIME_MODULES = {
    "ai-edge-litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
}


@dataclass
class Runtime:
    """Where interpreters come from: ai-edge-litert or tflite-runtime."""

    interpreter: Callable[..., Any]
    load_delegate: Callable[..., Any]
    make_edgetpu_interpreter: Callable[..., Any] | None = field(default=None)
    name: str = "test double"
    version: str = ""

    def describe(self) -> str:
        return f"{self.name} {self.version}".strip()


def runtime_order(choice: RuntimeChoice, device: Device) -> list[str]:
    """Interpreter packages to try, best first. On an Edge TPU, auto prefers
    tflite-runtime: it is the package libedgetpu's community builds are paired with."""
    if choice != "auto":
        return [choice]
    if device == "edgetpu":
        return ["tflite-runtime", "ai-edge-litert"]
    return ["ai-edge-litert", "tflite-runtime"]


def default_runtime(choice: RuntimeChoice = "auto", device: Device = "cpu") -> Runtime:
    order = runtime_order(choice, device)
    for dist in order:
        try:
            module = importlib.import_module(RUNTIME_MODULES[dist])
        except ImportError as exc:
            if exc.name is None or not RUNTIME_MODULES[dist].startswith(exc.name):
                # Installed but broken (e.g. a build for another NumPy): say so, or the
                # next package is used silently with a libedgetpu not made for it.
                logger.warning("%s is installed but cannot be imported: %s", dist, exc)
            continue
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        maker = _pycoral_make_interpreter() if dist == "tflite-runtime" else None
        return Runtime(module.Interpreter, module.load_delegate, maker, dist, version)
    raise PoseError(
        f"no TFLite runtime is installed ({' or '.join(order)}): pip install 'dancebooth[edge]'"
    )


def _pycoral_make_interpreter() -> Callable[..., Any] | None:
    try:
        edgetpu = importlib.import_module("pycoral.utils.edgetpu")
    except ImportError:  # absent, or PyPI's unrelated "pycoral"
        return None
    maker = getattr(edgetpu, "make_interpreter", None)
    return maker if callable(maker) else None


def edgetpu_library() -> str:
    return EDGETPU_LIBRARY.get(platform.system(), "libedgetpu.so.1")


def _load_delegate(
    runtime: Runtime, library: str, what: str, hint: str, options: dict[str, str] | None = None
) -> Any:
    try:
        return (
            runtime.load_delegate(library, options) if options else runtime.load_delegate(library)
        )
    except (ValueError, OSError, RuntimeError) as exc:
        raise PoseError(f"cannot load the {what} ({library}): {exc}; {hint}") from None


def _pycoral_interpreter(maker: Callable[..., Any], model_path: Path, tpu: str | None) -> Any:
    try:
        interpreter = maker(str(model_path), device=tpu) if tpu else maker(str(model_path))
    except (ValueError, OSError, RuntimeError) as exc:
        raise PoseError(f"no usable Edge TPU: {exc}; {EDGETPU_HINT}") from None
    interpreter.allocate_tensors()
    return interpreter


def explain_load_error(model_path: Path, device: Device, message: str) -> str:
    """The runtime's complaint about a model, turned into what to do."""
    if "edgetpu-custom-op" in message:
        if device == "cpu":
            problem = f"{model_path.name} is compiled for the Edge TPU and cannot run on the CPU"
            if not is_edgetpu_model(model_path):
                return f"{problem}: use its CPU variant (Coral names it without _edgetpu)"
            cpu = cpu_variant(model_path)
            where = "beside it" if cpu.is_file() else FETCH_CORAL_HINT
            return f"{problem}: use {cpu.name} ({where}), or set device: edgetpu"
        return (
            f"the Edge TPU runtime did not take {model_path.name} ({message.strip()}): the "
            "model needs a newer libedgetpu than the one loaded"
        )
    if "PosenetDecoderOp" in message:
        return (
            f"{model_path.name} ends in Coral's PosenetDecoderOp, which was not loaded: set "
            "decoder_library to posenet_decoder.so for this CPU"
        )
    return f"cannot load {model_path}: {message.strip()}"


def model_details(
    model_path: Path, runtime: Runtime | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Input and output tensor details, read without allocating (so without the Edge TPU
    or the custom ops an Edge TPU model or a PoseNet decoder needs)."""
    if not model_path.is_file():
        raise PoseError(f"pose model {model_path} does not exist; set the backend's model_path")
    runtime = runtime or default_runtime()
    try:
        interpreter = runtime.interpreter(model_path=str(model_path))
    except (ValueError, RuntimeError) as exc:
        raise PoseError(f"cannot read {model_path}: {exc}") from None
    return list(interpreter.get_input_details()), list(interpreter.get_output_details())


def load_interpreter(
    model_path: Path,
    *,
    threads: int = 1,
    device: Device = "cpu",
    edgetpu_device: str | None = None,
    edgetpu_library_path: Path | None = None,
    custom_op_libraries: Sequence[Path] = (),
    runtime: Runtime | None = None,
) -> Any:
    """An allocated interpreter for ``model_path`` on ``device``.

    ``edgetpu_device`` picks one of several Edge TPUs (``usb:0``, ``pci:1``, ...);
    ``edgetpu_library_path`` loads the Edge TPU runtime from there instead of the library
    path. ``custom_op_libraries`` are absolute paths of delegate libraries providing custom
    ops the model uses (Coral's ``posenet_decoder.so``); they load after the Edge TPU.
    """
    if not model_path.is_file():
        raise PoseError(f"pose model {model_path} does not exist; set the backend's model_path")
    if device == "cpu" and is_edgetpu_model(model_path):
        raise PoseError(explain_load_error(model_path, device, "edgetpu-custom-op"))
    runtime = runtime or default_runtime(device=device)
    maker = runtime.make_edgetpu_interpreter
    if device == "edgetpu" and maker and not custom_op_libraries and not edgetpu_library_path:
        return _pycoral_interpreter(maker, model_path, edgetpu_device)
    delegates = []
    if device == "edgetpu":
        options = {"device": edgetpu_device} if edgetpu_device else None
        library = str(edgetpu_library_path) if edgetpu_library_path else edgetpu_library()
        delegates.append(_load_delegate(runtime, library, "Edge TPU", EDGETPU_HINT, options))
    for lib in custom_op_libraries:
        if not Path(lib).is_file():
            raise PoseError(
                f"custom-op library {lib} does not exist; copy it from Coral's project-posenet "
                "(posenet_lib/<arch>/posenet_decoder.so) and set decoder_library"
            )
        hint = f"it must be built for this CPU ({platform.machine()}) and a compatible runtime"
        delegates.append(_load_delegate(runtime, str(lib), "custom-op library", hint))
    try:
        interpreter = runtime.interpreter(
            model_path=str(model_path), num_threads=threads, experimental_delegates=delegates
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise PoseError(explain_load_error(model_path, device, str(exc))) from None
    logger.info(
        "loaded %s on %s with %s (%d threads)", model_path.name, device, runtime.describe(), threads
    )
    return interpreter


class TfliteModel:
    """One interpreter with a single image input: set, invoke, read outputs."""

    def __init__(self, interpreter: Any) -> None:
        self.interpreter = interpreter
        inp = interpreter.get_input_details()[0]
        self.input_index: int = inp["index"]
        self.input_shape: tuple[int, ...] = tuple(int(v) for v in inp["shape"])
        self.input_dtype: np.dtype[Any] = np.dtype(inp["dtype"])
        self.outputs: list[dict[str, Any]] = list(interpreter.get_output_details())
        # Time spent inside invoke(), so benchmarks can split inference from the rest.
        self.invokes = 0
        self.invoke_s = 0.0

    @property
    def input_size(self) -> tuple[int, int]:
        """(width, height) of the image input."""
        return self.input_shape[2], self.input_shape[1]

    def run(self, image: npt.NDArray[Any], outputs: Sequence[int]) -> list[npt.NDArray[Any]]:
        """Invoke on one ``[H, W, C]`` input; return the outputs at positions ``outputs``."""
        self.interpreter.set_tensor(
            self.input_index, np.ascontiguousarray(image[None], dtype=self.input_dtype)
        )
        t0 = time.perf_counter()
        self.interpreter.invoke()
        self.invoke_s += time.perf_counter() - t0
        self.invokes += 1
        return [self.interpreter.get_tensor(self.outputs[i]["index"]) for i in outputs]

    def invoke(self) -> None:
        """Invoke on whatever input is set (for raw-speed measurements)."""
        self.interpreter.invoke()
