"""A one-line description of the machine, printed by every benchmark."""

from __future__ import annotations

import os
import platform


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def describe_machine() -> str:
    mem = _memory_gib()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [
        f"{cores} cores ({_cpu_model()})",
        f"{mem:.0f} GiB RAM" if mem else "RAM unknown",
        f"{platform.system()} {platform.machine()}",
        f"Python {platform.python_version()}",
    ]
    if hasattr(os, "getloadavg"):  # other work on the machine depresses every figure
        parts.append(f"load average {os.getloadavg()[0]:.1f}")
    return "machine: " + ", ".join(parts)
