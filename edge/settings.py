"""Settings of an edge node (``dancebooth edge run``): one YAML file + ``DANCEBOOTH_EDGE_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from protocol.ids import Identifier
from protocol.settings import FileSettings, Group, MqttSettings


class NodeIdentity(Group):
    booth: Identifier = "booth1"
    node: Identifier = "node1"


class CaptureSettings(Group):
    width: Annotated[int, Field(ge=16, le=4096)] = 640
    height: Annotated[int, Field(ge=16, le=4096)] = 480
    fps: Annotated[float, Field(gt=0, le=240)] = 30.0
    jpeg_quality: Annotated[int, Field(ge=10, le=100)] = 80
    ring_frames: Annotated[int, Field(ge=2, le=4096)] = 64


class CameraSource(Group):
    type: Literal["camera"] = "camera"
    device: int | str = 0


class VideoSource(Group):
    type: Literal["video"] = "video"
    path: Path
    loop: bool = False


class SyntheticSource(Group):
    type: Literal["synthetic"] = "synthetic"
    seed: int = 0


SourceSettings = Annotated[
    CameraSource | VideoSource | SyntheticSource, Field(discriminator="type")
]


class BlazePoseSettings(Group):
    type: Literal["blazepose"] = "blazepose"
    model_dir: Path | None = Field(
        None, description="cached .tflite files; default: $DANCEBOOTH_MODEL_DIR or user cache"
    )
    threads: Annotated[int, Field(ge=1, le=16)] = 2
    min_detection_score: Annotated[float, Field(gt=0, lt=1)] = 0.5
    min_pose_presence: Annotated[float, Field(gt=0, lt=1)] = 0.5
    max_people: Annotated[int, Field(ge=1, le=8)] = Field(
        2, description="people tracked at once (each costs one landmark-model run per frame)"
    )
    redetect_every: Annotated[int, Field(ge=0)] = Field(
        30, description="run the detector every N frames to see newcomers; 0: only when lost"
    )
    refine_landmarks: bool = Field(True, description="refine landmarks with the heatmaps")


class MoveNetSettings(Group):
    type: Literal["movenet"] = "movenet"
    model_path: Path = Field(description="MoveNet single-pose .tflite (Lightning or Thunder)")
    device: Literal["cpu", "edgetpu"] = "cpu"
    edgetpu_device: str | None = Field(None, description="which Edge TPU: usb:0, pci:0, ...")
    threads: Annotated[int, Field(ge=1, le=16)] = 2
    min_score: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.2, description="mean keypoint score below which nobody is reported"
    )


class PoseNetSettings(Group):
    type: Literal["posenet"] = "posenet"
    model_path: Path = Field(description="posenet_*_quant_decoder_edgetpu.tflite")
    decoder_library: Path = Field(
        Path("posenet_decoder.so"), description="Coral's PosenetDecoderOp custom-op library"
    )
    device: Literal["cpu", "edgetpu"] = "edgetpu"
    edgetpu_device: str | None = Field(None, description="which Edge TPU: usb:0, pci:0, ...")
    threads: Annotated[int, Field(ge=1, le=16)] = 2
    min_pose_score: Annotated[float, Field(ge=0, lt=1)] = 0.2


class ReplaySettings(Group):
    type: Literal["replay"] = "replay"
    noise: bool = True


PoseSettings = Annotated[
    BlazePoseSettings | MoveNetSettings | PoseNetSettings | ReplaySettings,
    Field(discriminator="type"),
]


class SmoothingSettings(Group):
    min_cutoff: Annotated[float, Field(gt=0)] = 1.0
    beta: Annotated[float, Field(ge=0)] = 0.05
    d_cutoff: Annotated[float, Field(gt=0)] = 1.0


class SpoolSettings(Group):
    path: Path = Path("var/edge-spool")
    max_mb: Annotated[int, Field(ge=16)] = 2048


class PreviewSettings(Group):
    fps: Annotated[float, Field(ge=0, le=30)] = 2.0
    width: Annotated[int, Field(ge=64, le=1280)] = 320


class EdgeSettings(FileSettings):
    model_config = SettingsConfigDict(env_prefix="DANCEBOOTH_EDGE_")

    node: NodeIdentity = NodeIdentity()
    mqtt: MqttSettings = MqttSettings()
    source: SourceSettings = SyntheticSource()
    pose: PoseSettings = ReplaySettings()
    capture: CaptureSettings = CaptureSettings()
    smoothing: SmoothingSettings = SmoothingSettings()
    spool: SpoolSettings = SpoolSettings()
    preview: PreviewSettings = PreviewSettings()
