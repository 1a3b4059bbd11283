"""Coral's model files: CPU and Edge TPU variants, PoseNet input sizes, the decoder library.

Coral publishes each model twice: ``NAME.tflite`` runs on the CPU, ``NAME_edgetpu.tflite``
is compiled for the Edge TPU (its whole graph is one ``edgetpu-custom-op`` that only
libedgetpu can run). PoseNet comes in input sizes made for camera shapes (481x641 for
4:3, 721x1281 for 16:9) and ends in ``PosenetDecoderOp``, a custom op provided by
Coral's ``posenet_decoder.so``, built per CPU architecture. ``dancebooth edge
fetch-models --coral`` puts every file in the model cache under the names below.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.pose.base import PoseError
from edge.pose.models import find_entry, resolve_model_dir, sha256_file

Device = Literal["cpu", "edgetpu"]

EDGETPU_SUFFIX = "_edgetpu"
MOVENET_LIGHTNING = "movenet_single_pose_lightning_ptq"
DECODER_NAME = "posenet_decoder.so"
FETCH_CORAL_HINT = "run `dancebooth edge fetch-models --coral`"
# The interpreter / Edge TPU runtime pair infra/edgetpu/install.sh installs: both built
# against TensorFlow 2.17.1 (libedgetpu must match the interpreter it is loaded into).
PAIRED_TFLITE_RUNTIME = "2.17.1"
PAIRED_LIBEDGETPU = "16.0tf2.17.1-1"


@dataclass(frozen=True)
class PoseNetModel:
    """One of Coral's PoseNet MobileNet decoder models: input height x width."""

    height: int
    width: int

    @property
    def aspect(self) -> float:
        return (self.width - 1) / (self.height - 1)  # 641x481 is 640:480 plus one pixel

    def file_name(self, device: Device) -> str:
        stem = f"posenet_mobilenet_v1_075_{self.height}_{self.width}_quant_decoder"
        return f"{stem}{EDGETPU_SUFFIX if device == 'edgetpu' else ''}.tflite"


# The input sizes the model cache holds (models/manifest.json): 4:3 and 16:9 cameras.
POSENET_MODELS = (PoseNetModel(481, 641), PoseNetModel(721, 1281))


def posenet_for(frame_w: int, frame_h: int) -> PoseNetModel:
    """The PoseNet input whose shape is closest to the frame's (so the least padding)."""
    aspect = frame_w / frame_h
    return min(POSENET_MODELS, key=lambda m: abs(m.aspect - aspect) / m.aspect)


def movenet_file(device: Device) -> str:
    return f"{MOVENET_LIGHTNING}{EDGETPU_SUFFIX if device == 'edgetpu' else ''}.tflite"


def is_edgetpu_model(path: Path) -> bool:
    return path.stem.endswith(EDGETPU_SUFFIX)


def cpu_variant(path: Path) -> Path:
    """``NAME_edgetpu.tflite`` -> ``NAME.tflite`` beside it (Coral's naming)."""
    if not is_edgetpu_model(path):
        return path
    return path.with_name(path.stem[: -len(EDGETPU_SUFFIX)] + path.suffix)


def cached_model(file_name: str, model_dir: Path | None) -> Path:
    """A Coral file in the cache, checked against its pinned sha256; its absence or a
    mismatch says how to get it."""
    folder = resolve_model_dir(model_dir)
    path = folder / file_name
    if not path.is_file():
        raise PoseError(f"{file_name} is not in the model cache {folder}: {FETCH_CORAL_HINT}")
    if sha256_file(path) != find_entry(file_name).sha256:
        raise PoseError(
            f"{path} does not match its pinned sha256 (corrupt or replaced): {FETCH_CORAL_HINT}"
        )
    return path


# -- the decoder library --------------------------------------------------------------
# platform.machine() spellings -> the folder names of Coral's posenet_lib/
ARCH_FOLDERS = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "armv7l": "armv7a",
    "armv7a": "armv7a",
}
# ELF e_machine -> architecture, to say what a library was built for.
ELF_MACHINES = {0x3E: "x86_64", 0xB7: "aarch64", 0x28: "armv7a", 0x03: "x86 (32-bit)"}


def machine_arch(machine: str | None = None) -> str:
    """This machine's folder name in Coral's ``posenet_lib/<arch>/`` layout."""
    raw = (machine or platform.machine()).lower()
    return ARCH_FOLDERS.get(raw, raw)


def decoder_relpath(arch: str) -> Path:
    return Path("posenet_lib") / arch / DECODER_NAME


def elf_arch(path: Path) -> str | None:
    """The architecture an ELF shared library was built for, or None if it is not ELF."""
    with path.open("rb") as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    order: Literal["little", "big"] = "little" if head[5] == 1 else "big"
    machine = int.from_bytes(head[18:20], order)
    return ELF_MACHINES.get(machine, f"ELF machine {machine:#x}")


def resolve_decoder(configured: Path | None, model_dir: Path | None) -> Path:
    """The absolute path of ``posenet_decoder.so`` that will be handed to ``dlopen``.

    ``configured`` (the ``decoder_library`` setting) is taken relative to the working
    directory; unset, it is ``<model cache>/posenet_lib/<arch>/posenet_decoder.so``, the
    layout of Coral's project-posenet, which ``fetch-models --coral`` fills. A bare name
    is never passed on: ``dlopen`` would search the system's library path, not here.
    """
    arch = machine_arch()
    if configured is not None:
        path = Path.cwd() / configured.expanduser()  # an absolute setting stays as it is
        origin = f"decoder_library {str(configured)!r}"
        if not configured.expanduser().is_absolute():
            origin += f", relative to the working directory {Path.cwd()}"
    else:
        path = resolve_model_dir(model_dir) / decoder_relpath(arch)
        origin = f"the default for {arch} in the model cache"
    path = path.resolve()
    if not path.is_file():
        raise PoseError(
            f"PoseNet's decoder library was looked for at {path} ({origin}) and is not "
            f"there: {FETCH_CORAL_HINT}, or copy posenet_lib/{arch}/{DECODER_NAME} from "
            "Coral's project-posenet and set decoder_library to it"
        )
    if configured is None and sha256_file(path) != find_entry(str(decoder_relpath(arch))).sha256:
        raise PoseError(
            f"{path} does not match its pinned sha256 (corrupt or replaced): {FETCH_CORAL_HINT}"
        )
    built_for = elf_arch(path)
    if built_for is None:
        raise PoseError(f"{path} is not a shared library (no ELF header); {FETCH_CORAL_HINT}")
    if built_for != arch:
        raise PoseError(
            f"{path} is built for {built_for}, this machine is {arch}: use "
            f"posenet_lib/{arch}/{DECODER_NAME} ({FETCH_CORAL_HINT})"
        )
    return path
