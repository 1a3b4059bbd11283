"""Settings of an edge node (``dancebooth edge run``): one YAML file + ``DANCEBOOTH_EDGE_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from edge.synthetic.noise import NoiseModel
from protocol.ids import Identifier
from protocol.settings import DEFAULT_KEEP_ACKED_S, FileSettings, Group, MqttSettings


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
    between_captures: Literal["empty", "dancer"] = Field(
        "empty",
        description="what the synthetic camera shows while no capture runs: the empty booth"
        " (the node takes its clean plate) or the dancer (a plate taken then has a person)",
    )


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
    person_mask: bool = Field(
        True, description="send the landmark model's person mask with each frame"
    )


class EdgeTpuSettings(Group):
    """How a Coral backend reaches its Edge TPU, and what happens when it cannot."""

    device: str | None = Field(None, description="which Edge TPU: usb:0, pci:0, ...")
    library: Path | None = Field(
        None, description="the Edge TPU runtime; default libedgetpu.so.1 from the library path"
    )
    runtime: Literal["auto", "tflite-runtime", "ai-edge-litert"] = Field(
        "auto",
        description="interpreter package; auto: tflite-runtime where installed (the build "
        "libedgetpu is paired with), else ai-edge-litert",
    )
    probe_timeout_s: Annotated[float, Field(ge=0, le=600)] = Field(
        30.0,
        description="load the delegate and run one inference in a child process first; a "
        "crash or hang there marks the Edge TPU unusable instead of killing the node; 0: off",
    )
    fallback: Literal["none", "cpu"] = Field(
        "none",
        description="when the Edge TPU is unusable: cpu runs the model's CPU variant; none "
        "keeps the node up without poses",
    )


class MoveNetSettings(Group):
    type: Literal["movenet"] = "movenet"
    model_path: Path | None = Field(
        None,
        description="MoveNet single-pose .tflite (Lightning or Thunder); default: Coral's "
        "Lightning for the device, from the model cache (fetch-models --coral)",
    )
    model_dir: Path | None = Field(
        None, description="model cache; default: $DANCEBOOTH_MODEL_DIR or user cache"
    )
    device: Literal["cpu", "edgetpu"] = "cpu"
    edgetpu: EdgeTpuSettings = EdgeTpuSettings()
    threads: Annotated[int, Field(ge=1, le=16)] = 2
    min_score: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.2, description="mean keypoint score below which nobody is reported"
    )


class PoseNetSettings(Group):
    type: Literal["posenet"] = "posenet"
    model_path: Path | None = Field(
        None,
        description="Coral's posenet_*_quant_decoder[_edgetpu].tflite; default: the input "
        "size nearest the camera's shape (641x481 for 4:3, 1281x721 for 16:9) for the "
        "device, from the model cache (fetch-models --coral)",
    )
    model_dir: Path | None = Field(
        None, description="model cache; default: $DANCEBOOTH_MODEL_DIR or user cache"
    )
    decoder_library: Path | None = Field(
        None,
        description="Coral's posenet_decoder.so (relative: to the working directory); "
        "default: <model cache>/posenet_lib/<cpu architecture>/posenet_decoder.so",
    )
    device: Literal["cpu", "edgetpu"] = "edgetpu"
    edgetpu: EdgeTpuSettings = EdgeTpuSettings()
    threads: Annotated[int, Field(ge=1, le=16)] = 2
    min_pose_score: Annotated[float, Field(ge=0, lt=1)] = 0.2


class ReplaySettings(Group):
    """Keypoints from the source (synthetic dancer, recorded file), made estimator-like."""

    type: Literal["replay"] = "replay"
    noise: bool = Field(True, description="add estimator-like noise; false: truth as is")
    rates: NoiseModel = NoiseModel()
    seed: int = Field(0, ge=0, description="noise seed; each capture (reset) continues from it")


PoseSettings = Annotated[
    BlazePoseSettings | MoveNetSettings | PoseNetSettings | ReplaySettings,
    Field(discriminator="type"),
]


class SmoothingSettings(Group):
    """Keypoint repair (imputation) then smoothing; defaults tuned by ``bench edge smoothing``."""

    # One Euro filter (online). beta is per torso length per second, so it holds at any
    # resolution: the cutoff rises by beta Hz for every torso length/s of joint speed.
    min_cutoff: Annotated[float, Field(gt=0, le=100)] = 0.3
    beta: Annotated[float, Field(ge=0, le=1000)] = 3.0
    d_cutoff: Annotated[float, Field(gt=0, le=100)] = 1.0
    # Repair: below min_confidence a joint is treated as missing and imputed.
    repair: bool = True
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.3
    # ...unless it stays within this many torso lengths of its own track (seen in the
    # previous frame): occluded joints come with low confidence but a fair position.
    track_gate_torso: Annotated[float, Field(ge=0, le=1)] = 0.12
    # A lost joint hangs from its anchor (parent joint) in the bone's last seen pose at
    # its learnt length; for the first short_gap_s it also coasts on the offset's
    # velocity. Measured on the synthetic dances, coasting did not pay (limbs reverse
    # too fast), so it is off by default; offline repair interpolates in time instead.
    short_gap_s: Annotated[float, Field(ge=0, le=5)] = 0.0
    buffer_frames: Annotated[int, Field(ge=3, le=1024)] = 16
    # A confident joint farther than this (torso lengths) from its prediction is an
    # outlier, unless it stays there for max_rejected_frames frames in a row (then the
    # estimator is believed; the same holds for left/right swaps). 1 scored a hair
    # better on the single-frame synthetic glitches; 2 also rides out short real ones.
    outlier_torso: Annotated[float, Field(gt=0, le=10)] = 0.3
    max_rejected_frames: Annotated[int, Field(ge=0, le=100)] = 2
    fix_swaps: bool = True
    imputed_confidence: Annotated[float, Field(ge=0, le=1)] = 0.5
    # Offline (zero-lag) smoother: penalised least squares with robust reweighting; the
    # strength at 30 fps. 10 left the least jitter on the synthetic dancers, but blurred
    # real motion (kicks, runs) to raw error; 1 on the motion-capture tuning clips
    # (`dancebooth bench edge smoothing --set real --tune`), -95 % jitter on the synthetic.
    offline_lambda: Annotated[float, Field(gt=0, le=1e9)] = 1.0


class SpoolSettings(Group):
    path: Path = Path("var/edge-spool")
    max_mb: Annotated[int, Field(ge=16)] = 2048
    keep_acked_s: Annotated[float, Field(ge=0)] = Field(
        DEFAULT_KEEP_ACKED_S,
        description="keep acknowledged packets this long to serve resend requests (a"
        " visitor's deletion removes theirs at once; the cloud's privacy page states this"
        " as retention.node_spool_s)",
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
    manifest_repeats: Annotated[int, Field(ge=0, le=20)] = Field(
        4, description="re-send each manifest this many times after its first PUBACK"
    )
    manifest_repeat_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        5.0, description="first repeat after this long; each next one three times later"
    )
    mqtt_version: Literal["auto", "5", "3.1.1"] = Field(
        "auto", description="auto: v5 where the broker speaks it, else 3.1.1 (amqtt)"
    )
    upload_keypoints: Literal["online", "offline"] = Field(
        "online",
        description="online: stream packets as frames are annotated (One Euro keypoints);"
        " offline: hold a capture's packets until it ends, then smooth with zero lag",
    )


class PlateSettings(Group):
    """The clean plate: an image of the empty booth at camera resolution, sent with every
    session (the renderer draws the dancer over it)."""

    auto: bool = Field(
        True,
        description="take the plate by itself when nobody has been in view for empty_for_s"
        " (first at start-up, then after every visitor); false: only on the operator's request",
    )
    empty_for_s: Annotated[float, Field(ge=0, le=3600)] = Field(
        5.0, description="nobody in view (pose backend) this long between captures: take it"
    )
    watch_fps: Annotated[float, Field(gt=0, le=30)] = Field(
        2.0, description="frames a second looked at between captures while a plate is wanted"
    )
    refresh_after_s: Annotated[float, Field(gt=0)] = Field(
        1800.0, description="retake an automatic plate this old even without a visitor since"
    )
    jpeg_quality: Annotated[int, Field(ge=50, le=100)] = Field(
        92, description="JPEG quality of the plate (it is the rendition's background)"
    )


class LiveSettings(Group):
    """The live keypoint stream (``node/{node}/live``, QoS 0) that feeds the booth's mirror."""

    enabled: bool = Field(
        True,
        description="publish every frame's dancer keypoints, capturing or not (between"
        " captures the node then watches its camera at the capture fps with the pose"
        " backend); false: only the plate watch looks between captures",
    )
    send_timeout_s: Annotated[float, Field(gt=0, le=5)] = Field(
        0.25,
        description="wait this long for a live message to reach the socket; newer"
        " keypoints arriving meanwhile replace the waiting ones (dropped, counted)",
    )


class PreviewSettings(Group):
    fps: Annotated[float, Field(ge=0, le=30)] = 2.0
    width: Annotated[int, Field(ge=64, le=1280)] = 320


class EdgeSettings(FileSettings):
    model_config = SettingsConfigDict(env_prefix="DANCEBOOTH_EDGE_")

    node: NodeIdentity = NodeIdentity()
    mqtt: MqttSettings = MqttSettings()
    source: SourceSettings = SyntheticSource()
    pose: PoseSettings = Field(
        default_factory=ReplaySettings,
        description="pose backend; when not set: replay for the synthetic source (its"
        " keypoints are known), blazepose (the CPU default) for a camera or a video",
    )
    capture: CaptureSettings = CaptureSettings()
    smoothing: SmoothingSettings = SmoothingSettings()
    spool: SpoolSettings = SpoolSettings()
    preview: PreviewSettings = PreviewSettings()
    live: LiveSettings = LiveSettings()
    plate: PlateSettings = PlateSettings()
    publisher: PublisherSettings = PublisherSettings()

    @model_validator(mode="after")
    def _pose_for_source(self) -> EdgeSettings:
        if "pose" not in self.model_fields_set and self.source.type != "synthetic":
            self.pose = BlazePoseSettings()
        return self
