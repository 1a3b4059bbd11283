"""Dead letters: payloads the uploader refused, recorded with the reason and a hash."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session as Db

from cloud.db.models import DeadLetter

logger = logging.getLogger(__name__)

MAX_REASON = 1000
MAX_TOPIC = 1024


@dataclass(frozen=True)
class Refusal:
    topic: str
    payload: bytes
    reason: str
    keep: bool = True  # False: a well-formed payload refused for whom it is about (a frame
    # of a deleted or finished session): its bytes would only keep a visitor's image


def record(db: Db, refusals: list[Refusal], keep_bytes: int) -> None:
    """Add one dead-letter row per refusal; the payload is kept if not above ``keep_bytes``."""
    for r in refusals:
        digest = hashlib.sha256(r.payload).hexdigest()
        logger.warning(
            "dead letter on %s (%d bytes, %s): %s",
            r.topic[:200],
            len(r.payload),
            digest[:12],
            r.reason,
        )
        db.add(
            DeadLetter(
                # Topics are UTF-8 from the broker; keep them printable and bounded.
                topic=r.topic.encode("utf-8", "backslashreplace").decode()[:MAX_TOPIC],
                reason=r.reason[:MAX_REASON],
                size=len(r.payload),
                sha256=digest,
                payload=r.payload if r.keep and len(r.payload) <= keep_bytes else None,
            )
        )
