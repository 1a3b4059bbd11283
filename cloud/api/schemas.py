"""Request and response bodies of the API (pydantic); strict about what comes in."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from cloud.db.models import JobState
from cloud.db.states import SessionState
from protocol.ids import ID_PATTERN

# Deliberately simple: one '@', a dot in the domain, no spaces. The mail server is the
# real judge; this catches typos at the kiosk.
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$"

Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=254, pattern=EMAIL_PATTERN)
]
SessionId = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]


class Inbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _consented(value: object) -> object:
    if value is not True:
        raise PydanticCustomError(
            "consent", "consent is required: tick the box to agree before registering"
        )
    return value


class Registration(Inbound):
    email: Email = Field(description="where the video link is sent")
    # Literal[True], so the schema says what the API accepts: a visitor who consented.
    consent: Annotated[Literal[True], BeforeValidator(_consented)] = Field(
        description="the visitor ticked the consent box; must be true"
    )
    dance: Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)] | None = Field(
        None, description="the dance chosen at the kiosk (one of GET /api/kiosk/dances)"
    )
    mirror_consent: bool = Field(
        False,
        description="the visitor also ticked 'my model may be shown live at the booth today':"
        " the operator may then put their model on the live mirror (mirror.consent_hours)",
    )


class Login(Inbound):
    name: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class SessionRef(Inbound):
    session_id: SessionId


class PlateRequest(Inbound):
    node: Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)] | None = Field(
        None, description="the node to take it; none: every node of the booth"
    )


class PlateRequested(BaseModel):
    node: str | None = Field(description="the node asked; None: every node")


class PlateView(BaseModel):
    """A node's clean plate, as its last status reported it."""

    taken_at: datetime
    age_s: float = Field(description="seconds since it was taken (node clock)")
    width: int
    height: int
    by_operator: bool
    warning: str | None = Field(
        None, description="why the operator should retake it (somebody was in view)"
    )


class BoothSettingsView(BaseModel):
    """A booth's own settings, as the dashboard shows them."""

    booth: str
    name: str
    layout: Literal["solo", "side-by-side"]
    capture_mode: Literal["guided", "free"] = Field(
        description="guided: the visitor dances along with their dance on the stage screen"
        " for its whole length; free: they dance as they like for api.capture_s"
    )


class BoothSettingsUpdate(Inbound):
    """Change a booth's settings; a field left out keeps its value."""

    layout: Literal["solo", "side-by-side"] | None = Field(
        None, description="solo: the visitor alone; side-by-side: beside the reference performer"
    )
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        None, description="the booth's name on the renditions' intro card"
    )
    capture_mode: Literal["guided", "free"] | None = Field(
        None, description="guided or free dance from the next capture on"
    )


class VisitorStatus(BaseModel):
    id: str
    state: SessionState
    position: int | None = Field(None, description="visitors ahead in the line to dance")
    retake_reasons: list[str] = Field(
        default_factory=list,
        description="capture QA suggests dancing again, for these reasons (the booth screen "
        "shows them); empty when the take passed or the operator decided",
    )


class QaView(BaseModel):
    """Capture QA's verdict on a session's latest take, and the decision taken on it."""

    session_id: str
    passed: bool
    coverage: float | None = Field(None, description="share of the reference's poses covered")
    reasons: list[str] = Field(description="why a retake is suggested (empty: passed)")
    notes: list[str] = Field(default_factory=list, description="how the scores were measured")
    decision: Literal["passed", "auto_accepted", "accepted", "retake"] | None = Field(
        None, description="None: a retake is suggested and the operator has not decided"
    )
    decided_by: str | None = None
    decided_at: datetime | None = None
    report: dict[str, Any] = Field(description="every score per node, and the thresholds")


class QaDecide(Inbound):
    """The operator's answer to a suggested retake."""

    decision: Literal["accept", "retake"] = Field(
        description="accept: queue the fine-tune anyway (logged with the scores); retake: "
        "put the visitor back in line to dance again"
    )


class StageDance(BaseModel):
    """The reference dance the stage screen plays, and where its files are."""

    name: str
    title: str
    fps: float
    width: int
    height: int
    frames: int
    keypoints: str = Field(description="URL of keypoints.csv (the animated figure)")
    video: str | None = Field(None, description="URL of the performer's video, if kept")
    music: str | None = Field(None, description="URL of the music, if any")


class StageView(BaseModel):
    """What the booth's stage screen shows: the latest capture, counted in to its shared
    start, with the visitor's dance, then capture QA's verdict."""

    server_time: float = Field(description="the API's clock now, Unix seconds")
    session_id: str | None = None
    state: SessionState | None = None
    start_at: float | None = Field(None, description="the nodes' shared start, Unix seconds")
    duration_s: float | None = None
    dance: StageDance | None = None
    qa_passed: bool | None = Field(None, description="None: not judged yet")
    retake_reasons: list[str] = Field(default_factory=list)


class QaSettingsView(BaseModel):
    booth: str
    auto_accept: bool = Field(description="queue fine-tunes even when QA suggests a retake")


class QaSettingsUpdate(Inbound):
    auto_accept: StrictBool = Field(description="true or false (not 0/1 or text)")


Reason = Annotated[str, StringConstraints(max_length=500, strip_whitespace=True)]


class Approve(Inbound):
    """Send the held rendition's link now."""

    decision: Literal["approve"]
    reason: Reason = ""


class Retake(Inbound):
    """Put the visitor back in line to dance again."""

    decision: Literal["retake"]
    reason: Reason = Field("", description="why (shown to operators)")


def _said_why(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        raise PydanticCustomError("reason", "say why the rendition is rejected (reason)")
    return value


class Reject(Inbound):
    """Fail the session; a reason is required."""

    decision: Literal["reject"]
    reason: Annotated[
        str,
        BeforeValidator(_said_why),
        StringConstraints(max_length=500, strip_whitespace=True),
        WithJsonSchema({"type": "string", "maxLength": 500, "pattern": r"\S"}),
    ] = Field(description="why the rendition is rejected (shown to operators)")


# One model per decision, so the schema itself says a rejection needs a reason.
ReviewDecision = Annotated[Approve | Retake | Reject, Body(discriminator="decision")]


class Reviewed(BaseModel):
    id: str
    state: SessionState
    mail: str | None = Field(None, description="the email's state: pending, sending, sent, failed")
    detail: str = Field("", description="the mail server's last refusal, if any")


class RenditionChecks(BaseModel):
    """A rendition's quality figures as the review dialog shows them: what the gate
    measured, its limits, why it held the rendition, and whether a strip of the worst
    checked frames (the detected skeleton drawn over them) is there."""

    reasons: list[str]
    figures: dict[str, float | None] = Field(
        description="held_out_ssim, flicker, dancer_missing, pose_error, appearance, drift"
    )
    limits: dict[str, float]
    pose_parts: dict[str, float | None] = Field(description="joint error per part, torso lengths")
    look_parts: dict[str, float | None] = Field(description="distance to the visitor per part")
    drift: dict[str, float | None] = Field(description="rise of each part's distance")
    checked_frames: int = 0
    checks_error: str | None = None
    strip: bool = Field(False, description="GET .../strip.jpg has the worst frames")


class MailView(BaseModel):
    """The visitor's latest email: what the operator sees beside the session's state."""

    state: str = Field(description="pending, sending, sent, failed or superseded")
    attempts: int
    error: str | None = Field(description="the mail server's last refusal")
    next_attempt_at: datetime | None = Field(description="when a pending email is tried again")
    sent_at: datetime | None


class JobView(BaseModel):
    id: int
    session_id: str
    kind: str
    state: JobState
    step: str | None
    progress: float
    attempts: int
    max_attempts: int
    error: str | None
    position: int | None
    eta_s: float | None
    created_at: datetime
    updated_at: datetime


class QualityView(BaseModel):
    """The quality gate's figures of a session's rendition (the dashboard's column)."""

    pose_error: float | None = Field(None, description="torso lengths")
    appearance: float | None = Field(
        None, description="colour distance to the visitor, the parts' mean"
    )
    dancer_missing: float | None = Field(None, description="share of checked frames")
    flicker: float | None = None
    held: bool = Field(False, description="the gate held it for review")


class QualityHour(BaseModel):
    hour: datetime
    renditions: int
    held: int
    pose_error: float | None = Field(None, description="median, torso lengths")
    appearance: float | None = Field(
        None, description="median of the colour distance to the visitor"
    )
    flicker: float | None = Field(None, description="median")


class QualityTrend(BaseModel):
    """Today's renditions at this booth, hour by hour (UTC): how many, how many held, and
    the median figures, so a drifting camera or light shows before the visitors see it."""

    day: str
    renditions: int
    held: int
    hours: list[QualityHour]


class VisitorView(BaseModel):
    id: str
    email: str | None
    consent: bool
    state: SessionState
    error: str | None
    created_at: datetime
    updated_at: datetime
    job: JobView | None = None
    upload: float | None = Field(None, description="share of announced frames stored (0-1)")
    mail: MailView | None = Field(None, description="the latest email with the visitor's link")
    plate_warning: str | None = Field(
        None, description="a node's clean plate for this session had somebody in it: retake it"
    )
    qa: QaView | None = Field(None, description="capture QA's verdict on the latest take")
    quality: QualityView | None = Field(None, description="the rendition's gate figures")


class NodeErasureView(BaseModel):
    node: str
    state: str = Field(description="pending (not confirmed yet), erased, or unknown")
    frames: int | None = Field(None, description="frames the node removed from its spool")
    confirmed_at: datetime | None = None


class SessionErasureView(BaseModel):
    session_id: str
    nodes: list[NodeErasureView]


class VisitorDeleted(VisitorStatus):
    nodes: list[NodeErasureView] = Field(
        description="the booth's nodes asked to erase the frames from their spools; each"
        " confirms over MQTT (GET /api/booth/erasure/nodes), an offline one on reconnecting"
    )


class NodeView(BaseModel):
    id: str
    state: str
    online: bool
    session_id: str | None
    backend: str
    stats: dict[str, Any]
    seen_at: datetime | None
    has_preview: bool
    clock_offset_s: float | None = Field(
        None, description="node clock minus the API's, measured over MQTT; None: not yet"
    )
    clock_error_s: float | None = Field(None, description="the measurement's ± bound")
    clock_warning: bool = Field(False, description="the offset exceeds clock.warn_s")
    plate: PlateView | None = Field(None, description="the node's clean plate; None: none yet")


class CaptureStarted(BaseModel):
    session_id: str
    start_at: float = Field(description="shared start time, Unix seconds")
    duration_s: float


class MirrorCandidate(BaseModel):
    session_id: str
    email: str | None
    dance: str | None
    delivered_at: datetime | None
    consent_until: datetime = Field(description="the live consent ends then")


class MirrorReport(BaseModel):
    """What one running mirror reports it wears."""

    node: str
    wearing: str = Field(description="the model's version")
    session_id: str | None = Field(description="the visitor whose model it is; None: the booth's")
    error: str | None = Field(description="the last model it could not wear, and why")
    seen_at: datetime
    stale: bool = Field(description="no report for a while: is the mirror running?")


class MirrorView(BaseModel):
    """The live mirror's lineup: the visitors whose models it wears in turn (empty: the
    booth checkpoint), who may be picked, and what the running mirrors report."""

    wearers: list[str]
    candidates: list[MirrorCandidate]
    mirrors: list[MirrorReport]


class MirrorUpdate(Inbound):
    wearers: list[SessionId] = Field(
        max_length=50,
        description="sessions whose models the mirror wears in turn; one is 'dance as …',"
        " none is the booth's own dancer",
    )


class OperatorView(BaseModel):
    name: str


class Message(BaseModel):
    detail: str
