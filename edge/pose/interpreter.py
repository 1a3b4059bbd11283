"""LiteRT interpreters for the pose backends: CPU (XNNPACK) or Edge TPU, plus custom ops.

The Edge TPU is reached through its delegate library (``libedgetpu.so.1``), via
pycoral's ``make_interpreter`` when Coral's own pycoral is installed (from Coral's
package index; the PyPI project called ``pycoral`` is unrelated and never used).
Every failure at this hardware boundary becomes a :class:`PoseError` that says what
to install or plug in.
"""

from __future__ import annotations

import importlib
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

logger = logging.getLogger(__name__)

Device = Literal["cpu", "edgetpu"]
EDGETPU_LIBRARY = {
    "Linux": "libedgetpu.so.1",
    "Darwin": "libedgetpu.1.dylib",
    "Windows": "edgetpu.dll",
}
EDGETPU_HINT = (
    "install the Edge TPU runtime (libedgetpu1-std from Coral's apt repository) and plug in "
    "the Coral USB Accelerator (or run on a Coral Dev Board); or set device: cpu"
)


@dataclass
class Runtime:
    """Where interpreters come from: ai-edge-litert, or tflite-runtime on Coral boards."""

    interpreter: Callable[..., Any]
    load_delegate: Callable[..., Any]
    make_edgetpu_interpreter: Callable[..., Any] | None = field(default=None)


def default_runtime() -> Runtime:
    for module_name in ("ai_edge_litert.interpreter", "tflite_runtime.interpreter"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return Runtime(module.Interpreter, module.load_delegate, _pycoral_make_interpreter())
    raise PoseError("no TFLite runtime is installed: pip install 'dancebooth[edge]'")


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


def load_interpreter(
    model_path: Path,
    *,
    threads: int = 1,
    device: Device = "cpu",
    edgetpu_device: str | None = None,
    custom_op_libraries: Sequence[Path] = (),
    runtime: Runtime | None = None,
) -> Any:
    """An allocated interpreter for ``model_path`` on ``device``.

    ``edgetpu_device`` picks one of several Edge TPUs (``usb:0``, ``pci:1``, ...).
    ``custom_op_libraries`` are delegate libraries providing custom ops the model uses
    (Coral's ``posenet_decoder.so``); they load after the Edge TPU delegate.
    """
    if not model_path.is_file():
        raise PoseError(f"pose model {model_path} does not exist; set the backend's model_path")
    runtime = runtime or default_runtime()
    maker = runtime.make_edgetpu_interpreter
    if device == "edgetpu" and maker is not None and not custom_op_libraries:
        return _pycoral_interpreter(maker, model_path, edgetpu_device)
    delegates = []
    if device == "edgetpu":
        options = {"device": edgetpu_device} if edgetpu_device else None
        delegates.append(
            _load_delegate(runtime, edgetpu_library(), "Edge TPU", EDGETPU_HINT, options)
        )
    for lib in custom_op_libraries:
        if not Path(lib).is_file():
            raise PoseError(
                f"custom-op library {lib} does not exist; copy it from Coral's project-posenet "
                "(posenet_lib/<arch>/posenet_decoder.so) and set decoder_library"
            )
        hint = "it must be built for this CPU architecture and runtime version"
        delegates.append(_load_delegate(runtime, str(lib), "custom-op library", hint))
    try:
        interpreter = runtime.interpreter(
            model_path=str(model_path), num_threads=threads, experimental_delegates=delegates
        )
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise PoseError(f"cannot load {model_path}: {exc}") from None
    logger.info("loaded %s on %s (%d threads)", model_path.name, device, threads)
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
