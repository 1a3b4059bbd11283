"""Counting GPU->CPU reads on a machine without a GPU.

On a GPU, reading a value to the host (``float(t)``, ``.item()``, ``.tolist()``,
``.cpu()``, ``bool(t)``) waits until every queued kernel has run: the CPU stops feeding
the GPU. On the CPU those reads cost nothing, so they go unnoticed. :class:`DeviceReads`
follows the tensors that would live on the training device — the model's weights, the
frames, and everything computed from them — and records every read of one to the host
with the code that made it. Host-side tensors (Adam's step counters, the batch
sampler's random numbers) stay on the CPU on a GPU machine too, and are not counted.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.weak import WeakTensorKeyDictionary

# Reads that leave no trace in the dispatcher on a CPU tensor (no copy is needed).
_HOST_METHODS: set[Callable[..., Any]] = {
    torch.Tensor.tolist,
    torch.Tensor.numpy,
    torch.Tensor.cpu,
}


class _Follow(TorchDispatchMode):
    def __init__(self, reads: DeviceReads) -> None:
        super().__init__()
        self.reads = reads

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.reads.on_device((args, kwargs)):
            if func is torch.ops.aten._local_scalar_dense.default:  # item, float, bool
                self.reads.record()
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    self.reads.device[t] = True
        return out


class _HostCalls(TorchFunctionMode):
    def __init__(self, reads: DeviceReads) -> None:
        super().__init__()
        self.reads = reads

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _HOST_METHODS and self.reads.on_device(args):
            self.reads.record()
        return func(*args, **kwargs)


class DeviceReads:
    """``with DeviceReads(tensors) as reads:`` — ``reads.where`` lists each read's caller."""

    def __init__(self, on_device: Iterable[torch.Tensor]) -> None:
        self.device: WeakTensorKeyDictionary = WeakTensorKeyDictionary()
        for t in on_device:
            self.device[t] = True
        self.where: list[str] = []
        self._modes = (_HostCalls(self), _Follow(self))

    def on_device(self, args: Any) -> bool:
        return any(isinstance(t, torch.Tensor) and t in self.device for t in tree_flatten(args)[0])

    def record(self) -> None:
        stack = traceback.extract_stack()
        ours = [f for f in stack if "/cloud/" in f.filename and "/tests/" not in f.filename]
        self.where.append(f"{ours[-1].filename}:{ours[-1].lineno}" if ours else "elsewhere")

    def __enter__(self) -> DeviceReads:
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
