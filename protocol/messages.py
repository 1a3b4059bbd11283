"""Versioned JSON messages on the wire: commands, node status, end-of-capture manifest.

Every model forbids unknown fields, refuses NaN/inf and bounds every length, so a
message that validates is safe to store and to act on. ``v`` is the schema version;
a receiver rejects versions it does not know instead of guessing.

A field added within a version has a default and is named in the model's
``ADDED_IN_V1``: it is left off the wire while it holds its default, so a receiver
that predates it still accepts the message whenever the new field has nothing to say.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from protocol.errors import MessageError
from protocol.ids import Identifier

MAX_MESSAGE_BYTES = 64 * 1024
MAX_CAPTURE_SECONDS = 120.0
MAX_RESEND_RANGES = 256
MAX_SEQ = 2**32 - 1

Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
EpochSeconds = Annotated[float, Field(allow_inf_nan=False, ge=0, le=1e10)]


class Message(BaseModel):
    """Base of every JSON message: strict about shape, version 1."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_max_length=256)

    v: Literal[1] = 1
    ADDED_IN_V1: ClassVar[frozenset[str]] = frozenset()

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude=_defaults_added_later(self)).encode()


def _defaults_added_later(model: BaseModel) -> dict[str, Any]:
    """The fields of ``model`` (and of its nested models) added within v1 that hold
    their default, as a pydantic ``exclude`` mapping."""
    added: frozenset[str] = getattr(model, "ADDED_IN_V1", frozenset())
    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if name in added and value == field.get_default(call_default_factory=True):
            out[name] = True
        elif isinstance(value, BaseModel) and (nested := _defaults_added_later(value)):
            out[name] = nested
    return out


M = TypeVar("M", bound=Message)


def decode_message(model: type[M], payload: bytes | str) -> M:
    """Parse ``payload`` as ``model``; raise :class:`MessageError` with the reason."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise MessageError(f"{model.__name__}: {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        raise MessageError(f"{model.__name__}: {where}: {first['msg']}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MessageError(f"{model.__name__}: {exc}") from exc


class CaptureStart(Message):
    """Start capturing ``session`` on every node of the booth at ``start_at``."""

    session: Identifier
    start_at: EpochSeconds = Field(description="shared start time, Unix seconds (UTC)")
    duration_s: Annotated[float, Field(gt=0, le=MAX_CAPTURE_SECONDS, allow_inf_nan=False)]
    fps: Annotated[int, Field(ge=1, le=240)] | None = None


class CaptureCancel(Message):
    session: Identifier
    reason: Annotated[str, Field(max_length=200)] = ""


class EraseRequest(Message):
    """Delete every frame of ``session`` from the node's spool (the visitor's deletion).

    Retained on the session's own topic until every node of the booth confirmed, so a
    node that is offline gets it when it reconnects; a node may get it more than once.
    """

    session: Identifier
    requested_at: EpochSeconds


class EraseResult(StrEnum):
    ERASED = "erased"  # the node held the session and removed it
    UNKNOWN = "unknown"  # the node holds nothing of the session (never had, or gone already)


class EraseAck(Message):
    """A node's answer to an ``EraseRequest``, on its ``erased/{session}`` topic."""

    session: Identifier
    node: Identifier
    result: EraseResult
    frames: Annotated[int, Field(ge=0, le=MAX_SEQ)] = Field(
        0, description="frames (spooled and quarantined) the node removed"
    )
    at: EpochSeconds


class SeqRange(BaseModel):
    """An inclusive range of sequence numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first: Seq
    last: Seq

    @model_validator(mode="after")
    def _ordered(self) -> SeqRange:
        if self.last < self.first:
            raise ValueError("last must be >= first")
        return self


class ResendRequest(Message):
    session: Identifier
    node: Identifier
    ranges: Annotated[list[SeqRange], Field(min_length=1, max_length=MAX_RESEND_RANGES)]


class PlateTake(Message):
    """Take the clean plate now (the operator's action): every node of the booth, or one.

    A node that is capturing takes it once the capture ends; the plate is taken even
    with somebody in view, and then reported as such (``PlateInfo.person``)."""

    node: Identifier | None = Field(None, description="only this node; None: every node")


class PlateInfo(BaseModel):
    """The node's current clean plate, as its status reports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    taken_at: EpochSeconds = Field(description="when it was taken, node clock")
    width: Annotated[int, Field(ge=1, le=8192)]
    height: Annotated[int, Field(ge=1, le=8192)]
    by_operator: bool = Field(False, description="taken on request, not automatically")
    person: bool = Field(
        False, description="somebody was in view when it was taken: retake it (empty booth)"
    )


class NodeState(StrEnum):
    ONLINE = "online"
    CAPTURING = "capturing"
    OFFLINE = "offline"


class NodeStats(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ADDED_IN_V1: ClassVar[frozenset[str]] = frozenset(
        {"pose_failures", "lost_frames", "unmasked_frames"}
    )

    capture_fps: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] = 0.0
    pose_fps: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)] = 0.0
    inference_ms: Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False)] = 0.0
    dropped_frames: Annotated[int, Field(ge=0)] = 0
    spool_depth: Annotated[int, Field(ge=0)] = 0
    people_seen: Annotated[int, Field(ge=0, le=100)] = 0
    pose_failures: Annotated[int, Field(ge=0)] = Field(
        0, description="pose-backend errors since the node started (those frames: nobody seen)"
    )
    lost_frames: Annotated[int, Field(ge=0)] = Field(
        0, description="spooled frames that did not decode since the node started (quarantined)"
    )
    unmasked_frames: Annotated[int, Field(ge=0)] = Field(
        0,
        description="frames sent without a person mask since the node started (no mask, an"
        " empty one, or one too large for the packet): trained full-frame",
    )


class ClockPing(Message):
    """The cloud asks every node of the booth for its time (see ``ClockEcho``)."""

    sent_at: EpochSeconds = Field(description="the sender's clock, Unix seconds")


class ClockEcho(BaseModel):
    """A node's answer to a ``ClockPing``, inside the status it publishes at once: with
    the status's ``at`` (sent, node clock) the cloud computes the node's clock offset and
    the round trip as NTP does."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sent_at: EpochSeconds = Field(description="the ping's sent_at, copied")
    received_at: EpochSeconds = Field(description="when the ping arrived, node clock")


class NodeStatus(Message):
    """Retained per-node status; the broker publishes ``state=offline`` as the last will."""

    ADDED_IN_V1: ClassVar[frozenset[str]] = frozenset({"plate"})

    node: Identifier
    state: NodeState
    at: EpochSeconds
    session: Identifier | None = None
    backend: Annotated[str, Field(max_length=32)] = ""
    stats: NodeStats = NodeStats()
    clock: ClockEcho | None = None
    plate: PlateInfo | None = Field(None, description="the clean plate; None: none taken yet")


class CaptureManifest(Message):
    """What a node captured for a session, sent once the capture ends.

    The receiver is complete when it holds every sequence number in
    ``[first_seq, last_seq]`` except those listed in ``dropped`` (frames the node
    never spooled: a full ring) and in ``lost`` (spooled, but their JPEG did not
    decode: the node quarantined them).
    """

    ADDED_IN_V1: ClassVar[frozenset[str]] = frozenset({"lost"})

    session: Identifier
    node: Identifier
    first_seq: Seq
    last_seq: Seq
    frame_count: Annotated[int, Field(ge=0, le=MAX_SEQ)]
    dropped: Annotated[list[Seq], Field(max_length=100_000)] = []
    lost: Annotated[list[Seq], Field(max_length=100_000)] = []
    width: Annotated[int, Field(ge=1, le=8192)]
    height: Annotated[int, Field(ge=1, le=8192)]
    fps: Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)]
    started_at: EpochSeconds
    ended_at: EpochSeconds

    @model_validator(mode="after")
    def _consistent(self) -> CaptureManifest:
        if self.frame_count == 0:
            return self
        if self.last_seq < self.first_seq:
            raise ValueError("last_seq must be >= first_seq")
        span = self.last_seq - self.first_seq + 1
        if set(self.dropped) & set(self.lost):
            raise ValueError("a frame cannot be both dropped and lost")
        if self.frame_count + len(self.dropped) + len(self.lost) != span:
            raise ValueError(
                "frame_count + len(dropped) + len(lost) must equal last_seq - first_seq + 1"
            )
        return self

    def expected_seqs(self) -> set[int]:
        if self.frame_count == 0:
            return set()
        return set(range(self.first_seq, self.last_seq + 1)) - set(self.dropped) - set(self.lost)


def json_schema(model: type[Message]) -> dict[str, Any]:
    return model.model_json_schema()
