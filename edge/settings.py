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
    realtime: bool = Field(True, description="deliver frames at the capture fps, not faster")


class SyntheticSource(Group):
    type: Literal["synthetic"] = "synthetic"
    seed: int = 0
    realtime: bool = Field(True, description="deliver frames at the capture fps, not faster")


SourceSettings = Annotated[
    CameraSource | VideoSource | SyntheticSource, Field(discriminator="type")
]


class BlazePoseSettings(Group):
    type: Literal["blazepose"] = "blazepose"
    model_dir: Path | None = Field(None, description="cached .tflite files; default: user cache")
    threads: Annotated[int, Field(ge=1, le=16)] = 2


class MoveNetSettings(Group):
    type: Literal["movenet"] = "movenet"
    model_path: Path
    device: Literal["cpu", "edgetpu"] = "cpu"


class PoseNetSettings(Group):
    type: Literal["posenet"] = "posenet"
    model_path: Path
    decoder_library: Path = Path("posenet_decoder.so")


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
    keep_acked_s: Annotated[float, Field(ge=0)] = Field(
        3600.0, description="keep acknowledged packets this long to serve resend requests"
    )


class PublisherSettings(Group):
    """Store-and-forward publishing: in-flight window, reconnect backoff, stats rate."""

    inflight_window: Annotated[int, Field(ge=1, le=1024)] = 64
    reconnect_min_s: Annotated[int, Field(ge=1, le=60)] = 1
    reconnect_max_s: Annotated[int, Field(ge=1, le=600)] = 30
    connect_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    ack_timeout_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        30.0, description="re-publish a packet not acknowledged this long after sending"
    )
    stats_interval_s: Annotated[float, Field(gt=0, le=3600)] = 2.0
    mqtt_version: Literal["auto", "5", "3.1.1"] = Field(
        "auto", description="auto: v5 where the broker speaks it, else 3.1.1 (amqtt)"
    )
    upload_keypoints: Literal["online", "offline"] = Field(
        "online",
        description="online: stream packets as frames are annotated (One Euro keypoints);"
        " offline: hold a capture's packets until it ends, then smooth with zero lag",
    )


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
    publisher: PublisherSettings = PublisherSettings()
