"""Settings of the cloud deployables (API, uploader, worker): YAML + ``DANCEBOOTH_CLOUD_*``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, IPvAnyNetwork, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from protocol.ids import Identifier
from protocol.settings import DEFAULT_KEEP_ACKED_S, FileSettings, Group, MqttSettings


class Environment(StrEnum):
    DEMO = "demo"  # embedded defaults on one laptop
    PRODUCTION = "production"  # secrets required, nothing defaulted


class DatabaseSettings(Group):
    url: str = Field("sqlite:///var/dancebooth.db", description="SQLAlchemy URL")


class LocalStorage(Group):
    type: Literal["local"] = "local"
    root: Path = Path("var/store")


class S3Storage(Group):
    type: Literal["s3"] = "s3"
    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    create_bucket: bool = Field(False, description="create the bucket if missing (demo, tests)")


StorageSettings = Annotated[LocalStorage | S3Storage, Field(discriminator="type")]


class OutboxMail(Group):
    type: Literal["outbox"] = "outbox"
    directory: Path = Path("var/outbox")
    sender: str = "dancebooth <booth@localhost>"


class SmtpMail(Group):
    type: Literal["smtp"] = "smtp"
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    timeout_s: Annotated[float, Field(gt=0)] = 20.0
    ca_file: Path | None = Field(None, description="CA bundle for a private SMTP certificate")


MailSettings = Annotated[OutboxMail | SmtpMail, Field(discriminator="type")]


class ApiSettings(Group):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8000
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = Field(None, description="signs sessions; required in production")
    countdown_s: Annotated[float, Field(ge=0, le=60)] = 5.0
    capture_s: Annotated[float, Field(gt=0, le=120)] = Field(
        15.0, description="length of a free-dance capture (capture_mode free)"
    )
    capture_mode: Literal["guided", "free"] = Field(
        "guided",
        description="guided: the stage screen plays the visitor's reference dance and the "
        "capture lasts that dance (at most guided_max_s), so every pose it renders was danced "
        "along to; free: the visitor dances as they like for capture_s",
    )
    guided_max_s: Annotated[float, Field(gt=0, le=120)] = Field(
        30.0,
        description="longest guided capture: a longer dance is danced along to for its first "
        "guided_max_s seconds (the shipped dances last 20-22.5 s)",
    )
    kiosk_per_minute: Annotated[int, Field(ge=1)] = Field(
        20, description="visitor registrations allowed per client IP per minute"
    )
    login_max_age_s: Annotated[int, Field(ge=60)] = 12 * 3600
    login_failures_per_account: Annotated[int, Field(ge=1)] = Field(
        5, description="failed logins per operator name per login_window_s before a wait"
    )
    login_failures_per_address: Annotated[int, Field(ge=1)] = Field(
        20, description="failed logins per client address per login_window_s before a wait"
    )
    login_window_s: Annotated[float, Field(gt=0)] = 900.0
    login_concurrency: Annotated[int, Field(ge=1, le=64)] = Field(
        2, description="password checks at once per API process (argon2: 64 MiB each)"
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="reverse proxies (addresses or CIDR) whose X-Forwarded-For is believed",
    )
    events_poll_s: Annotated[float, Field(gt=0, le=10)] = Field(
        0.5, description="how often each API process polls the database for changes"
    )

    def capture_length(self, dance_s: float | None, mode: str | None = None) -> float:
        """Seconds a capture lasts: a guided one the length of the visitor's dance
        (``dance_s``), capped at ``guided_max_s``; a free one, or one whose dance's length is
        unknown, ``capture_s``. ``mode``: the booth's own choice, else ``capture_mode``."""
        if (mode or self.capture_mode) == "free" or dance_s is None or dance_s <= 0:
            return self.capture_s
        return min(dance_s, self.guided_max_s)


class ClockSettings(Group):
    """Node clocks against the API's, measured over MQTT (cloud/api/clocks.py)."""

    ping_every_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        10.0, description="how often the API measures every node's clock offset"
    )
    warn_s: Annotated[float, Field(gt=0)] = Field(
        0.1, description="offset the dashboard shows as a warning"
    )
    refuse_s: Annotated[float, Field(gt=0)] = Field(
        1.0, description="offset above which a capture is refused, naming the node"
    )


class WorkerSettings(Group):
    lease_s: Annotated[float, Field(gt=1)] = 60.0
    heartbeat_s: Annotated[float, Field(gt=0)] = 10.0
    poll_s: Annotated[float, Field(gt=0)] = 2.0
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    max_steps: Annotated[int, Field(ge=1)] = Field(5000, description="fine-tune step cap")
    dance: str = Field(
        "wave-party",
        description="reference dance of a booth whose operators enabled none (the Dances page)",
    )
    work_dir: Path = Field(Path("var/work"), description="local scratch for fine-tune runs")


class DanceSettings(Group):
    """The dance library: operators upload videos; the API runs each add as a process
    (``dancebooth reference add``, so the API's machine needs the edge extra installed)."""

    upload_dir: Path = Field(
        Path("var/dances"), description="where uploaded videos are kept while their dance is edited"
    )
    max_upload_mb: Annotated[int, Field(ge=1, le=20_000)] = Field(
        500, description="largest video an operator may upload"
    )
    add_timeout_s: Annotated[float, Field(gt=0)] = Field(
        3600.0, description="an add running longer than this is stopped and marked failed"
    )


class UploaderSettings(Group):
    """How the uploader batches, acknowledges, checks completeness and dead-letters."""

    share_group: Identifier = Field("uploaders", description="MQTT v5 shared subscription group")
    shared_subscription: bool = Field(True, description="split load across uploaders if possible")
    protocol: Literal["auto", "v5", "v311"] = Field(
        "auto", description="MQTT version; auto tries v5 then falls back to 3.1.1 (amqtt)"
    )
    client_id: Identifier | None = Field(None, description="stable id; default uploader-<host>")
    session_expiry_s: Annotated[int, Field(ge=0, le=7 * 86400)] = 3600
    batch_frames: Annotated[int, Field(ge=1, le=10_000)] = 500
    batch_seconds: Annotated[float, Field(gt=0, le=60)] = 0.25
    resend_after_s: Annotated[float, Field(gt=0)] = Field(
        2.0, description="quiet time after a manifest before asking a node for missing frames"
    )
    resend_interval_s: Annotated[float, Field(gt=0)] = 5.0
    max_resend_requests: Annotated[int, Field(ge=0, le=1000)] = 10
    dead_letter_keep_bytes: Annotated[int, Field(ge=0, le=1024 * 1024)] = Field(
        140_000, description="keep refused payloads up to this size (a whole frame packet fits)"
    )
    require_registered_session: bool = Field(
        False, description="refuse frames for sessions the API never registered"
    )
    max_attempts: Annotated[int, Field(ge=1, le=100)] = Field(
        3, description="attempts of the fine-tune job enqueued when a capture completes"
    )


def _int_from_text(value: object) -> object:
    # Environment variables arrive as text, and Literal[int] does not coerce "256".
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


class TrainingSettings(Group):
    device: str = Field(
        "auto",
        pattern=r"^(auto|cpu|cuda(:\d+)?)$",
        description="auto, cpu, cuda or cuda:N (one worker per GPU); checked at worker start",
    )
    resolution: Annotated[Literal[128, 256, 512], BeforeValidator(_int_from_text)] = Field(
        128, description="must match the booth checkpoint's; checked at worker start"
    )
    batch_size: Annotated[int, Field(ge=1, le=64)] = 4
    budget_s: Annotated[float, Field(gt=0)] = 300.0
    booth_checkpoint: Path | None = None


class QualitySettings(Group):
    """What a rendition must meet to be emailed without an operator looking. The checks'
    thresholds are set from ``dancebooth bench gate`` (docs/benchmarks.md; 12 synthetic
    visitors at 128 px, 24 good renditions, 36 broken): halfway from the worst good
    rendition to the lowest of the broken kinds it separates, else twice the worst good
    one. The look (colour distance over the parts) separated every broken kind (good at most
    0.39, broken at least 0.50: 0.44); nobody found separated the empty captures (good at
    most 50 %, empty 100 %: 75 %); pose error and drift separated no kind (good at most 0.16
    and 0.15: limits 0.32 and 0.30, gross failures only). The flicker ratio is not set there
    (good renditions over a still plate flicker ~0): 3x is "far above the booth's median"."""

    min_held_out_ssim: Annotated[float, Field(ge=-1, le=1)] = 0.5
    max_flicker: Annotated[float, Field(ge=0, description="grey levels per frame")] = 6.0
    checks: bool = Field(
        True, description="run BlazePose and the appearance check on sampled rendered frames"
    )
    sample_runs: Annotated[int, Field(ge=1, le=64)] = Field(
        4, description="runs of consecutive frames sampled over the dance for the checks"
    )
    run_length: Annotated[int, Field(ge=1, le=16)] = Field(3, description="frames per run")
    max_missing: Annotated[float, Field(ge=0, le=1)] = Field(
        0.75, description="share of sampled frames in which BlazePose may find nobody"
    )
    max_pose_error: Annotated[float, Field(gt=0)] = Field(
        0.32, description="mean joint error of the drawn person, torso lengths"
    )
    limb_threshold: Annotated[float, Field(gt=0)] = Field(
        0.5, description="a limb end further off than this (torso lengths) counts as off"
    )
    max_appearance: Annotated[float, Field(ge=0, le=1)] = Field(
        0.44, description="colour distance to the visitor, mean over head, torso, legs (0-1)"
    )
    max_appearance_drift: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="rise of a part's distance from the first to the last third"
    )
    max_flicker_vs_median: Annotated[float, Field(gt=1)] = Field(
        3.0, description="flicker allowed as a multiple of the booth's running median"
    )
    flicker_history: Annotated[int, Field(ge=3, le=1000)] = Field(
        50, description="renditions the running median of flicker is taken over"
    )
    flicker_floor: Annotated[float, Field(gt=0)] = Field(
        0.1,
        description="the running median counts as at least this (grey levels per frame): a"
        " dancer drawn over a still plate flickers ~0.01, and a ratio to that is noise",
    )


class CaptureQaSettings(Group):
    """Capture QA thresholds (cloud.qa): a capture below any of them is "retake suggested".

    Measured on the synthetic booth (``dancebooth bench qa`` prints every figure)."""

    enabled: bool = Field(True, description="score captures before their fine-tune is queued")
    auto_accept: bool = Field(
        False,
        description="queue the fine-tune even when QA suggests a retake (the verdict is still "
        "shown and logged); a booth's own setting on the dashboard overrides this",
    )
    min_conf: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="keypoint confidence from which a joint counts as seen"
    )
    min_joints: Annotated[int, Field(ge=1, le=17)] = Field(
        8, description="joints a frame must show to have a pose (and be scored)"
    )
    match_distance: Annotated[float, Field(gt=0, le=5)] = Field(
        0.3, description="mean joint distance, torso lengths, within which a pose covers one"
    )
    min_coverage: Annotated[float, Field(ge=0, le=1)] = Field(
        0.75,
        description="share of the reference dance's poses the capture must cover (synthetic "
        "dance-along visitors 0.77-0.95, the wrong routine 0.60-0.72: dancebooth bench qa)",
    )
    min_pose_frames: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="share of frames in which the dancer must be found"
    )
    min_whole_body: Annotated[float, Field(ge=0, le=1)] = Field(
        0.7, description="share of frames with every body joint inside the image"
    )
    min_feet: Annotated[float, Field(ge=0, le=1)] = Field(
        0.8, description="share of frames with both ankles inside the image"
    )
    min_frame_share: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="the dancer's median height as a share of the image height"
    )
    min_motion: Annotated[float, Field(ge=0)] = Field(
        0.10,
        description="mean joint spread over the clip, torso lengths (synthetic: standing still "
        "0.05-0.06, dancing 0.14+)",
    )
    min_sharpness: Annotated[float, Field(ge=0)] = Field(
        0.1,
        description="Laplacian variance over grey variance in the dancer's box (synthetic: "
        "sharp 0.7-1.0, Gaussian blur of 3 px 0.03)",
    )
    brightness: tuple[float, float] = Field(
        (40.0, 220.0), description="allowed mean grey level (0-255) of the dancer's box"
    )
    max_clipped: Annotated[float, Field(ge=0, le=1)] = Field(
        0.25, description="share of pixels crushed to black or blown to white"
    )
    image_samples: Annotated[int, Field(ge=0, le=200)] = Field(
        12, description="JPEGs per node decoded for blur and exposure (0: skip the image check)"
    )


class RenderSettings(Group):
    batch_size: Annotated[int, Field(ge=1, le=256)] = 16
    crf: Annotated[int, Field(ge=0, le=51)] = 23
    preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = "veryfast"
    min_range: Annotated[float, Field(ge=0, le=1)] = Field(
        0.05, description="ankle range (share of height) below which one depth is assumed"
    )
    min_height: Annotated[int, Field(ge=128, le=2160)] = Field(
        480, description="a camera smaller than this is upscaled to it (delivered video height)"
    )
    intro_s: Annotated[float, Field(ge=0, le=10)] = Field(
        1.5, description="intro card (the booth's and the dance's name) before the dance"
    )
    outro_s: Annotated[float, Field(ge=0, le=10)] = Field(1.0, description="outro card after it")
    quality: QualitySettings = QualitySettings()


class CredentialSettings(Group):
    """C2PA content credentials signed into every rendition (cloud/render/credentials.py)."""

    cert: Path | None = Field(
        None,
        description="PEM: the ES256 (P-256) signing certificate, then its chain; production"
        " must set it (with key) unless allow_unsigned",
    )
    key: Path | None = Field(None, description="PEM: the signing certificate's private key")
    demo_dir: Path = Field(
        Path("var/credentials"),
        description="without cert/key (demo, tests): a private CA and a signing certificate"
        " are made here on first run",
    )
    allow_unsigned: bool = Field(
        False,
        description="deliver renditions without content credentials when no cert is set"
        " (the rendition page then says 'unsigned')",
    )
    explain_url: str = Field(
        "https://contentcredentials.org/verify",
        description="where the privacy page's 'what are content credentials' link goes",
    )


class DeliverySettings(Group):
    """Links and their emails; a refused email is retried from the database outbox."""

    link_ttl_days: Annotated[float, Field(gt=0, le=365)] = 30.0
    token_bytes: Annotated[int, Field(ge=16, le=64)] = 32
    mail_attempts: Annotated[int, Field(ge=1, le=50)] = Field(
        10, description="attempts per email before the session shows mail_failed"
    )
    mail_backoff_s: Annotated[float, Field(ge=0)] = Field(
        5.0, description="wait after the first failed attempt; doubles after each"
    )
    mail_max_backoff_s: Annotated[float, Field(ge=0)] = Field(
        600.0, description="longest wait between two attempts"
    )
    flush_every_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        5.0, description="how often API processes and idle workers look for emails to retry"
    )


class RetentionSettings(Group):
    """How long a visitor's data is kept (``dancebooth cloud retention``; workers sweep)."""

    captures_days: Annotated[float, Field(gt=0, le=3650)] = Field(
        30.0, description="raw captures (shards, frame rows) are deleted this long after capture"
    )
    models_days: Annotated[float, Field(gt=0, le=3650)] = Field(
        30.0, description="fine-tuned models are deleted this long after capture"
    )
    rendition_grace_days: Annotated[float, Field(ge=0, le=365)] = Field(
        0.0, description="renditions are deleted this long after their link expires"
    )
    dead_letters_days: Annotated[float, Field(gt=0, le=3650)] = Field(
        14.0, description="refused MQTT payloads (dead letters) are deleted this long after"
    )
    node_spool_s: Annotated[float, Field(ge=0)] = Field(
        DEFAULT_KEEP_ACKED_S,
        description="how long the booth's nodes keep frames the cloud acknowledged (their"
        " spool.keep_acked_s; keep the two equal): stated on the privacy page",
    )
    sweep_every_s: Annotated[float, Field(ge=0)] = Field(
        3600.0, description="how often each worker runs the retention sweep when idle; 0: never"
    )


class MirrorSettings(Group):
    """The live mirror (``dancebooth cloud mirror``): one node's dancer, re-rendered live."""

    node: Identifier = Field("node1", description="the node whose live keypoints it shows")
    resolution: Annotated[Literal[128, 256, 512], BeforeValidator(_int_from_text)] = Field(
        256, description="the generator's square side; a model of another size is refused"
    )
    model: Path | None = Field(
        None, description="generator checkpoint; default models/booth-<resolution>.safetensors"
    )
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8010
    jpeg_quality: Annotated[int, Field(ge=30, le=100)] = 80
    absent_s: Annotated[float, Field(gt=0, le=60)] = Field(
        1.0, description="nobody seen (or no keypoints) this long: show 'step in to dance'"
    )
    reframe_after_s: Annotated[float, Field(gt=0, le=60)] = Field(
        0.5, description="the dancer outside their framing this long: frame them afresh"
    )
    max_age_s: Annotated[float, Field(gt=0, le=10)] = Field(
        0.5, description="keypoints older than this when the generator is free are dropped"
    )
    playlist: list[Path] = Field(
        default_factory=list,
        description="checkpoints the mirror wears in turn after model (each of the mirror's"
        " resolution); one that does not load is skipped",
    )
    rotate_s: Annotated[float, Field(ge=5, le=86400)] = Field(
        120.0,
        description="wear the next playlist model after this long, once nobody is dancing"
        " (a dancer's look never changes mid-dance)",
    )
    visitor_models: bool = Field(
        True,
        description="wear the delivered visitors' models the operator picks on the dashboard"
        " (reads the database and the object store); false: the booth's models only",
    )
    consent_hours: Annotated[float, Field(gt=0, le=24)] = Field(
        12.0,
        description="how long a visitor's kiosk consent to be shown live lasts ('today')",
    )


class CloudSettings(FileSettings):
    model_config = SettingsConfigDict(env_prefix="DANCEBOOTH_CLOUD_")

    environment: Environment = Environment.DEMO
    booth: str = "booth1"
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = LocalStorage()
    mqtt: MqttSettings = MqttSettings()
    mail: MailSettings = OutboxMail()
    api: ApiSettings = ApiSettings()
    clock: ClockSettings = ClockSettings()
    training: TrainingSettings = TrainingSettings()
    uploader: UploaderSettings = UploaderSettings()
    render: RenderSettings = RenderSettings()
    credentials: CredentialSettings = CredentialSettings()
    delivery: DeliverySettings = DeliverySettings()
    retention: RetentionSettings = RetentionSettings()
    worker: WorkerSettings = WorkerSettings()
    dances: DanceSettings = DanceSettings()
    qa: CaptureQaSettings = CaptureQaSettings()
    mirror: MirrorSettings = MirrorSettings()

    @model_validator(mode="after")
    def _production_secrets(self) -> CloudSettings:
        if self.environment is not Environment.PRODUCTION:
            return self
        missing = []
        if self.api.secret_key is None:
            missing.append("api.secret_key")
        if self.mqtt.password is None:
            missing.append("mqtt.password")
        if self.database.url.startswith("sqlite"):
            missing.append("database.url (PostgreSQL)")
        if missing:
            raise ValueError(f"production requires {', '.join(missing)}")
        weak = weak_secrets(self)
        if weak:
            raise ValueError(
                f"production refuses {'; '.join(weak)}: set real secrets, e.g. from "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        _check_signing(self.credentials)
        if not self.api.public_url.startswith("https://"):
            raise ValueError(
                f"production requires an https:// api.public_url (got {self.api.public_url}): "
                "login cookies are only Secure and visitors' links only private over TLS"
            )
        return self


def _check_signing(c: CredentialSettings) -> None:
    """Production signs every rendition with its own certificate. Named here; the files
    are checked (readable, valid now, ES256, the key the certificate's) where they are
    used, when the worker starts (cloud/render/credentials.py ``check_identity``)."""
    if c.cert is None and c.key is None and c.allow_unsigned:
        return
    if c.cert is None or c.key is None:
        raise ValueError(
            "production requires credentials.cert and credentials.key (the C2PA signing "
            "certificate and key every rendition is signed with; DANCEBOOTH_CLOUD_CREDENTIALS__"
            "CERT / __KEY), or credentials.allow_unsigned=true to deliver unsigned videos"
        )


# Placeholders of infra/env.example and infra/k8s/secret.example.yaml, and the defaults
# of the services the cloud talks to: none of them may guard a real booth.
PLACEHOLDERS = ("change-me", "changeme", "change_me", "replace-me", "example")
DEFAULT_SECRETS = frozenset({"password", "secret", "admin", "minioadmin", "postgres", "dancebooth"})
MIN_SECRET_KEY = 32  # signs the login cookies
MIN_PASSWORD = 12


def weakness(value: str, min_length: int) -> str | None:
    """Why ``value`` cannot guard production (a placeholder, a default, too short), or None."""
    lowered = value.strip().lower()
    if any(p in lowered for p in PLACEHOLDERS):
        return "a placeholder"
    if lowered in DEFAULT_SECRETS:
        return "a well-known default"
    if len(value) < min_length:
        return f"shorter than {min_length} characters"
    return None


def weak_secrets(settings: CloudSettings) -> list[str]:
    """``"<key> (<why>)"`` for every secret in ``settings`` that is weak."""
    secrets: dict[str, tuple[SecretStr | str | None, int]] = {
        "api.secret_key": (settings.api.secret_key, MIN_SECRET_KEY),
        "mqtt.password": (settings.mqtt.password, MIN_PASSWORD),
        "database.url password": (urlsplit(settings.database.url).password, MIN_PASSWORD),
    }
    if isinstance(settings.storage, S3Storage):
        secrets["storage.secret_access_key"] = (settings.storage.secret_access_key, MIN_PASSWORD)
    if isinstance(settings.mail, SmtpMail):
        secrets["mail.password"] = (settings.mail.password, MIN_PASSWORD)
    weak = []
    for key, (secret, min_length) in secrets.items():
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        why = weakness(value, min_length) if value is not None else None
        if why:
            weak.append(f"{key} ({why})")
    return weak
