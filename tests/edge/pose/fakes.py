"""A small, real implementation of the interpreter interface for hardware we lack.

It stands in for an Edge TPU (and for model files we cannot ship): it has input and
output details, takes tensors, and computes outputs with a given function, while
recording which delegates it was built with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.pose.coral import machine_arch
from edge.pose.interpreter import Runtime

Compute = Callable[[np.ndarray], list[np.ndarray]]


@dataclass
class Delegate:
    library: str


@dataclass
class ModelSpec:
    input_shape: tuple[int, ...]
    input_dtype: type
    outputs: list[tuple[tuple[int, ...], type]]
    compute: Compute
    input_quant: tuple[float, int] = (0.0, 0)
    output_quant: tuple[float, int] = (0.0, 0)


class FakeInterpreter:
    def __init__(self, spec: ModelSpec, model_path: str, delegates: list[Any]) -> None:
        self.spec = spec
        self.model_path = model_path
        self.delegates = delegates
        self.allocated = False
        self.inputs_seen: list[np.ndarray] = []
        self._outputs: list[np.ndarray] = []

    def allocate_tensors(self) -> None:
        self.allocated = True

    def get_input_details(self) -> list[dict[str, Any]]:
        spec = self.spec
        return [
            {
                "index": 0,
                "shape": np.array(spec.input_shape),
                "dtype": spec.input_dtype,
                "quantization": spec.input_quant,
            }
        ]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [
            {
                "index": 100 + i,
                "shape": np.array(s),
                "dtype": d,
                "quantization": self.spec.output_quant,
            }
            for i, (s, d) in enumerate(self.spec.outputs)
        ]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        assert index == 0 and self.allocated
        assert value.shape == self.spec.input_shape, value.shape
        assert value.dtype == self.spec.input_dtype, value.dtype
        self.inputs_seen.append(value.copy())

    def invoke(self) -> None:
        self._outputs = self.spec.compute(self.inputs_seen[-1])

    def get_tensor(self, index: int) -> np.ndarray:
        return self._outputs[index - 100]


@dataclass
class FakeRuntime:
    """Interpreters from specs; delegates load only if their library is ``available``."""

    spec: ModelSpec
    available: set[str] = field(default_factory=set)
    pycoral: bool = False
    built: list[FakeInterpreter] = field(default_factory=list)
    delegate_calls: list[str] = field(default_factory=list)
    delegate_options: list[dict[str, str] | None] = field(default_factory=list)
    pycoral_devices: list[str | None] = field(default_factory=list)

    def interpreter(
        self, model_path: str, num_threads: int = 1, experimental_delegates: list[Any] | None = None
    ) -> FakeInterpreter:
        it = FakeInterpreter(self.spec, model_path, list(experimental_delegates or []))
        self.built.append(it)
        return it

    def load_delegate(self, library: str, options: dict[str, str] | None = None) -> Delegate:
        self.delegate_calls.append(library)
        self.delegate_options.append(options)
        if Path(library).name not in self.available:
            raise ValueError(f"Failed to load delegate from {library}")
        return Delegate(library)

    def make_edgetpu_interpreter(
        self, model_path: str, device: str | None = None
    ) -> FakeInterpreter:
        self.pycoral_devices.append(device)
        if "libedgetpu.so.1" not in self.available:
            raise ValueError("Failed to load delegate from libedgetpu.so.1")
        return self.interpreter(model_path, experimental_delegates=[Delegate("pycoral")])

    def runtime(self) -> Runtime:
        return Runtime(
            self.interpreter,
            self.load_delegate,
            self.make_edgetpu_interpreter if self.pycoral else None,
        )


ELF_MACHINES = {"x86_64": 0x3E, "aarch64": 0xB7, "armv7a": 0x28}


def elf_library(path: Path, arch: str | None = None) -> Path:
    """The header of a little-endian ELF shared object built for ``arch`` (default: this
    machine), enough for the architecture check; the fake runtime "loads" it."""
    machine = ELF_MACHINES.get(arch or machine_arch(), 0x3E)
    header = b"\x7fELF\x02\x01\x01" + bytes(9) + (3).to_bytes(2, "little")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + machine.to_bytes(2, "little") + bytes(44))
    return path
