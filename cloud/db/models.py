"""The database schema as typed SQLAlchemy 2 models (Alembic migrations mirror it)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cloud.db.states import SessionState
from cloud.db.types import UtcDateTime

ID = String(64)  # protocol identifiers are at most 64 characters
# A 64-bit auto-increment key on PostgreSQL; SQLite only auto-increments INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # Named constraints so migrations can alter them on every backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON,
    }


def _enum(cls: type[StrEnum], name: str) -> Enum:
    # Stored as plain strings (no native ENUM type) so adding a state is a code change.
    return Enum(cls, name=name, native_enum=False, length=16, values_callable=_values)


def _values(cls: type[StrEnum]) -> list[str]:
    return [m.value for m in cls]


class Booth(Base):
    __tablename__ = "booths"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # How visitors who do not choose get their dance from the enabled ones (booth_dances).
    rotation: Mapped[str] = mapped_column(String(16), default="order")  # order | random
    rotation_next: Mapped[int] = mapped_column(Integer, default=0)  # the next turn in order
    # How its renditions are laid out: solo | side-by-side (cloud.render.layout).
    layout: Mapped[str] = mapped_column(String(16), default="solo", server_default="solo")
    # Queue a capture's fine-tune even when capture QA suggests a retake (cloud.qa.gate);
    # None: the deployment's qa.auto_accept setting.
    qa_auto_accept: Mapped[bool | None] = mapped_column(Boolean)
    # guided | free (ApiSettings.capture_length); None: the deployment's api.capture_mode.
    capture_mode: Mapped[str | None] = mapped_column(String(8))
    # The sessions whose fine-tuned models the live mirror wears, in turn (cloud.mirror.
    # lineup); empty or None: the booth checkpoint.
    mirror_wearers: Mapped[list[str] | None] = mapped_column(JSON)


class MirrorStatus(Base):
    """What a live mirror reports it wears (cloud.mirror.lineup), for the dashboard."""

    __tablename__ = "mirror_status"

    booth_id: Mapped[str] = mapped_column(ID, primary_key=True)
    node_id: Mapped[str] = mapped_column(ID, primary_key=True)
    wearing: Mapped[str] = mapped_column(String(200))  # the model's version
    session_id: Mapped[str | None] = mapped_column(ID)  # None: a booth checkpoint
    error: Mapped[str | None] = mapped_column(Text)  # the last model it could not wear
    seen_at: Mapped[datetime]


class Node(Base):
    """An edge node and its last reported status (for the operator UI)."""

    __tablename__ = "nodes"

    booth_id: Mapped[str] = mapped_column(ID, ForeignKey("booths.id"), primary_key=True)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="offline")
    session_id: Mapped[str | None] = mapped_column(ID)
    backend: Mapped[str] = mapped_column(String(32), default="")
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status_at: Mapped[datetime | None]  # the node's own clock
    seen_at: Mapped[datetime | None]  # when the cloud received it
    plate: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # protocol PlateInfo
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NodeErasure(Base):
    """One node's part of a session's erasure: the retained erase request to the booth's
    nodes (``published_at``, ``cleared_at``) and what this node answered (see
    :mod:`cloud.node_erasure`)."""

    __tablename__ = "node_erasures"

    session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(ID, primary_key=True)
    booth_id: Mapped[str] = mapped_column(ID)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]  # the retained request reached the broker
    result: Mapped[str | None] = mapped_column(String(16))  # None: not confirmed yet
    frames: Mapped[int | None] = mapped_column(Integer)
    confirmed_at: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]  # the retained request was removed


class Session(Base):
    """One visitor's capture, from registration to delivered video."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    booth_id: Mapped[str] = mapped_column(ID, ForeignKey("booths.id"))
    email: Mapped[str | None] = mapped_column(String(320))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    # The visitor also let the live mirror wear their model, until then (kiosk box).
    mirror_consent_until: Mapped[datetime | None]
    state: Mapped[SessionState] = mapped_column(
        _enum(SessionState, "session_state"), default=SessionState.REGISTERED, index=True
    )
    error: Mapped[str | None] = mapped_column(Text)
    dance: Mapped[str | None] = mapped_column(String(64))  # chosen or assigned at registration
    # The latest capture's shared start (Unix seconds) and length: the stage screen counts
    # in to it and plays the dance from it.
    capture_start_at: Mapped[float | None] = mapped_column(Float)
    capture_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)
    captured_at: Mapped[datetime | None]
    uploaded_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    # Tombstone: what retention or a deletion request removed, and when (cloud.retention).
    captures_deleted_at: Mapped[datetime | None]
    model_deleted_at: Mapped[datetime | None]
    rendition_deleted_at: Mapped[datetime | None]


class QaDecision(StrEnum):
    PASSED = "passed"  # above every threshold: the fine-tune was queued
    AUTO_ACCEPTED = "auto_accepted"  # below, but the booth queues anyway (qa_auto_accept)
    ACCEPTED = "accepted"  # below; an operator queued it anyway
    RETAKE = "retake"  # below; an operator sent the visitor to dance again


class CaptureQa(Base):
    """The capture QA verdict on a session's latest take (cloud.qa), and what was done.

    ``decision`` is None while a retake is suggested and the operator has not decided."""

    __tablename__ = "capture_qa"

    session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    passed: Mapped[bool] = mapped_column(Boolean)
    coverage: Mapped[float | None] = mapped_column(Float)
    report: Mapped[dict[str, Any]]  # cloud.qa.report.QaReport.to_json(), reasons included
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Shard(Base):
    """A shard object; reserved (``frames = 0``, ``written_at`` empty) before it is written."""

    __tablename__ = "shards"
    __table_args__ = (UniqueConstraint("session_id", "node_id", "index"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(ID)
    index: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(512), unique=True)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    owner: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    written_at: Mapped[datetime | None]


class Frame(Base):
    """One stored frame. (session, node, seq) is unique: the arbiter of exactly-once."""

    __tablename__ = "frames"
    __table_args__ = (
        UniqueConstraint("session_id", "node_id", "seq", name="uq_frames_session_node_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"))
    node_id: Mapped[str] = mapped_column(ID)
    seq: Mapped[int] = mapped_column(BigInteger)
    shard_key: Mapped[str] = mapped_column(String(512))
    capture_ns: Mapped[int] = mapped_column(BigInteger)
    jpeg_bytes: Mapped[int] = mapped_column(Integer)
    flags: Mapped[int] = mapped_column(Integer, default=0)
    # The camera size: a node's frames of one session all have the first one's.
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class Plate(Base):
    """A node's clean plate for a session: the empty booth the dancer is drawn over."""

    __tablename__ = "plates"
    __table_args__ = (ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),)

    session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    node_id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(String(512))
    taken_at: Mapped[datetime]
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    by_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why the operator should retake it (somebody in it); None: it looks clean.
    warning: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlatePart(Base):
    """A chunk of a plate still being received (chunks may reach different uploaders)."""

    __tablename__ = "plate_parts"
    __table_args__ = (ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),)

    session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    node_id: Mapped[str] = mapped_column(ID, primary_key=True)
    taken_ns: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Manifest(Base):
    """A node's end-of-capture manifest and how completing it is going."""

    __tablename__ = "manifests"
    __table_args__ = (ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="CASCADE"),)

    session_id: Mapped[str] = mapped_column(ID, primary_key=True)
    node_id: Mapped[str] = mapped_column(ID, primary_key=True)
    body: Mapped[dict[str, Any]]
    expected: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer, default=0)
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    resend_requests: Mapped[int] = mapped_column(Integer, default=0)
    last_resend_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]


class DeadLetter(Base):
    """A payload the uploader refused, with why; the bytes are kept up to a limit."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(1024))
    reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobKind(StrEnum):
    FINETUNE = "finetune"
    RENDER = "render"
    DELIVER = "deliver"


class Operator(Base):
    """A booth operator who may sign in to the dashboard (argon2 password hash)."""

    __tablename__ = "operators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class OperatorLogin(Base):
    """An operator's login (server-side session): the row goes when it ends."""

    __tablename__ = "operator_logins"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    operator_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("operators.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Rendition(Base):
    """A session's rendered video and its link (only the token's digest is stored)."""

    __tablename__ = "renditions"

    session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True
    )
    video_key: Mapped[str] = mapped_column(String(512))
    dance: Mapped[str] = mapped_column(String(64), default="")
    held_out_ssim: Mapped[float | None] = mapped_column(Float)
    flicker: Mapped[float | None] = mapped_column(Float)
    # The rendition checks (cloud.render.checks): share of sampled frames with nobody,
    # mean joint error in torso lengths, worst part's distance to the visitor and drift.
    dancer_missing: Mapped[float | None] = mapped_column(Float)
    pose_error: Mapped[float | None] = mapped_column(Float)
    appearance: Mapped[float | None] = mapped_column(Float)
    appearance_drift: Mapped[float | None] = mapped_column(Float)
    review_reasons: Mapped[str | None] = mapped_column(Text)
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # an attempt holds it until lease_expires_at
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of attempts
    SUPERSEDED = "superseded"  # a newer link replaced it before it went out


class Mail(Base):
    """One email to a visitor, recorded with its link before it is sent (the outbox).

    ``message`` (the composed email, which carries the link token) is kept only until the
    email is sent, fails or is superseded; ``key`` makes recording it idempotent.
    """

    __tablename__ = "mails"
    __table_args__ = (Index("ix_mails_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ID, ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[MailState] = mapped_column(
        _enum(MailState, "mail_state"), default=MailState.PENDING
    )
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Job(Base):
    """A unit of cloud work, claimed by a worker under a lease kept alive by heartbeats."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_state_created", "state", "created_at"),
        Index("ix_jobs_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(ID, ForeignKey("sessions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"), default=JobState.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_s: Mapped[float | None] = mapped_column(Float)
    checkpoint_key: Mapped[str | None] = mapped_column(String(512))
    step: Mapped[str | None] = mapped_column(String(32))  # last step finished; resume after it
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class DanceState(StrEnum):
    ADDING = "adding"  # the add runs (pose, quality report)
    READY = "ready"  # the last add succeeded (or was forced)
    REFUSED = "refused"  # the last add's quality report said no; the upload is kept
    FAILED = "failed"  # the last add could not run; ``error`` says why


class Dance(Base):
    """A reference dance an operator added from a video, and its last add.

    The built-in dances (``reference_videos/``) have no row. An added dance's files are in
    the object store under ``prefix`` (``dances/<name>/v<version>/``); ``version`` 0
    means none stored yet, so a re-run that is refused keeps the previous version."""

    __tablename__ = "dances"

    name: Mapped[str] = mapped_column(ID, primary_key=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[DanceState] = mapped_column(
        _enum(DanceState, "dance_state"), default=DanceState.ADDING
    )
    version: Mapped[int] = mapped_column(Integer, default=0)
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)  # of the last add
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the last add's quality report
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)  # dance.json of the stored one
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    eta_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    upload: Mapped[str | None] = mapped_column(String(1024))  # the video, on ``runner``'s disk
    runner: Mapped[str] = mapped_column(String(128), default="")  # host that runs its adds
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class BoothDance(Base):
    """A dance enabled at a booth, at its place in the rotation (built-in or added)."""

    __tablename__ = "booth_dances"

    booth_id: Mapped[str] = mapped_column(
        ID, ForeignKey("booths.id", ondelete="CASCADE"), primary_key=True
    )
    dance: Mapped[str] = mapped_column(ID, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
