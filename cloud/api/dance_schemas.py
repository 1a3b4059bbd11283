"""Request and response bodies of the Dances page and the kiosk's dance choice."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from cloud.api.schemas import Inbound
from protocol.ids import ID_PATTERN

DanceName = Annotated[str, StringConstraints(pattern=ID_PATTERN, max_length=64)]
Person = Annotated[str, StringConstraints(pattern=r"^([0-9]{1,2}|largest|central)$")]


class AddOptions(Inbound):
    """How to (re-)build a dance from its uploaded video."""

    # A start and a length, not an end: every pair the schema allows is a valid trim.
    start_s: float | None = Field(None, ge=0, le=3600, description="trim: first second kept")
    length_s: float | None = Field(None, gt=0, le=3600, description="trim: seconds kept")
    person: Person | None = Field(
        None, description="whom to follow: index in the first crowded frame, largest, central"
    )
    mirror: bool = Field(False, description="store a mirrored copy (dance along on screen)")
    force: bool = Field(False, description="keep it even if the quality report refuses it")


DanceStatus = Literal["uploading", "adding", "ready", "refused", "failed", "stalled"]


class DanceView(BaseModel):
    name: str
    title: str
    builtin: bool = Field(description="shipped with the booth (reference_videos/): kept")
    status: DanceStatus = Field(description="of the last add; built-in dances are ready")
    available: bool = Field(description="a version is stored: it can be enabled and rendered")
    enabled: bool = Field(description="offered at this booth")
    position: int | None = Field(None, description="place in this booth's rotation")
    forced: bool = Field(False, description="kept although its quality report refused it")
    frames: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    bpm: float | None = None
    width: int | None = Field(None, description="frame size the keypoints are given in")
    height: int | None = None
    progress: float = Field(0.0, description="of the running add, 0-1")
    eta_s: float | None = None
    error: str | None = None
    report: dict[str, Any] | None = Field(None, description="the last add's quality report")
    options: dict[str, Any] = Field(default_factory=dict, description="the last add's options")
    can_rerun: bool = Field(False, description="its video is kept here: trim, pick, force")
    files: list[str] = Field(default_factory=list, description="files of the stored version")


class RotationIn(Inbound):
    mode: Literal["order", "random"] = Field(
        description="who does not choose gets the next, or any"
    )
    dances: list[DanceName] = Field(min_length=1, max_length=100, description="enabled, in order")


class RotationView(BaseModel):
    mode: Literal["order", "random"]
    dances: list[str] = Field(description="enabled dances, in order")
    configured: bool = Field(description="False: none enabled yet, the configured default is used")


class OfferedDance(BaseModel):
    """A dance the kiosk offers the visitor."""

    name: str
    title: str
    duration_s: float | None


class Offered(BaseModel):
    choose: bool = Field(description="more than one dance: the visitor may choose")
    dances: list[OfferedDance]


class DeletedDance(BaseModel):
    name: str
    objects: int = Field(description="stored files deleted")
