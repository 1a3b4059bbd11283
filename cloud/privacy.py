"""What this deployment keeps of a visitor, where, for how long and who sees it: the
privacy page (``/privacy``) and the kiosk's consent text, both from these values, which
come from the settings and nowhere else, so neither can drift from what the booth does.
"""

from __future__ import annotations

from dataclasses import dataclass

from cloud.settings import CloudSettings, LocalStorage, S3Storage


def _num(value: float) -> str:
    return f"{value:g}"


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = round(seconds / size, 1)
            return f"{_num(n)} {unit}{'' if n == 1 else 's'}"
    return f"{_num(seconds)} seconds"


@dataclass(frozen=True)
class Store:
    what: str  # the kind of data
    where: str
    kept: str  # for how long, in words


@dataclass(frozen=True)
class PrivacyTerms:
    booth: str
    capture: str  # how long the booth films, in words: "about 15 seconds", "up to 30 seconds"
    captures_days: str
    models_days: str
    data_days: str  # the longer of the two: what the consent text promises
    link_days: str
    video_days: str  # the link's lifetime plus the grace after it
    node_spool: str  # e.g. "1 hour" after the cloud acknowledged a frame
    dead_letters_days: str
    storage: str  # where objects live, in words
    signed: bool  # renditions carry signed content credentials
    explain_url: str
    stores: tuple[Store, ...]
    mirror_hours: str  # how long the optional live-mirror consent lasts


def _storage(settings: CloudSettings) -> str:
    s = settings.storage
    if isinstance(s, S3Storage):
        return f"the object store bucket {s.bucket!r}"
    assert isinstance(s, LocalStorage)
    return "files on the booth's server"


def _capture(settings: CloudSettings) -> str:
    api = settings.api
    if api.capture_mode == "guided":  # as long as the visitor's dance, within the cap
        return f"up to {_num(api.guided_max_s)} seconds"
    return f"about {_num(api.capture_s)} seconds"


def privacy_terms(settings: CloudSettings) -> PrivacyTerms:
    r, d, c = settings.retention, settings.delivery, settings.credentials
    storage = _storage(settings)
    database = "the booth's database"
    captures, models = _num(r.captures_days), _num(r.models_days)
    video = _num(d.link_ttl_days + r.rendition_grace_days)
    spool = _duration(r.node_spool_s)
    stores = (
        Store(
            "your recorded frames (video stills) and body keypoints",
            f"{storage} and {database}",
            f"{captures} days after your visit",
        ),
        Store(
            "on the booth's camera computers (their spool) until the server has them, then",
            "the camera computers at the booth",
            f"{spool}, for resending lost frames",
        ),
        Store("the AI model trained on your frames", storage, f"{models} days after your visit"),
        Store(
            "your video",
            storage,
            f"until your link expires ({_num(d.link_ttl_days)} days after it is sent), "
            f"then {_num(r.rendition_grace_days)} days more",
        ),
        Store(
            "your email address and the emails we sent you (the mail log)",
            database,
            "until you delete your data or the operator erases the event",
        ),
        Store(
            "messages the server refused from the cameras (may contain frames)",
            database,
            f"{_num(r.dead_letters_days)} days",
        ),
    )
    return PrivacyTerms(
        booth=settings.booth,
        capture=_capture(settings),
        captures_days=captures,
        models_days=models,
        data_days=_num(max(r.captures_days, r.models_days)),
        link_days=_num(d.link_ttl_days),
        video_days=video,
        node_spool=spool,
        dead_letters_days=_num(r.dead_letters_days),
        storage=storage,
        signed=not (c.allow_unsigned and c.cert is None),
        explain_url=c.explain_url,
        stores=stores,
        mirror_hours=_num(settings.mirror.consent_hours),
    )
