"""The session state machine: which state may follow which, and nothing else.

::

    registered → capturing → uploaded → queued → training → rendering → mail_pending → delivered
         │            │          │         │         │           │        ↑    │  ↑       │
         │            │          │         │         │           ▼        │    ▼  │       │
         │            │          │         │         │       needs_review   mail_failed   │
         └────────────┴──────────┴─ retake, failed, deleted ─────┴────────────────────────┘

``retake`` goes back to ``capturing``; ``failed`` may be retried (``queued``) or
retaken; ``deleted`` is final. Training and rendering may return to ``queued`` when a
job is retried. ``needs_review`` is a rendition the quality gate held: the operator
approves it (its link is recorded and emailed), sends the visitor back to ``retake``,
rejects it (``failed`` with the reason) or re-renders it (``queued``).

A session is ``delivered`` only once the mail server took the email with its link
(:mod:`cloud.delivery.outbox`): until then it is ``mail_pending`` (retried with
backoff, the last refusal in ``error``), and ``mail_failed`` when the server refused
for good or the attempts ran out. A re-send moves ``delivered`` or ``mail_failed``
back to ``mail_pending``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class SessionState(StrEnum):
    REGISTERED = "registered"
    CAPTURING = "capturing"
    UPLOADED = "uploaded"
    QUEUED = "queued"
    TRAINING = "training"
    RENDERING = "rendering"
    MAIL_PENDING = "mail_pending"
    MAIL_FAILED = "mail_failed"
    DELIVERED = "delivered"
    NEEDS_REVIEW = "needs_review"
    RETAKE = "retake"
    FAILED = "failed"
    DELETED = "deleted"


S = SessionState
_ANY_LIVE: Final = frozenset({S.FAILED, S.DELETED})

TRANSITIONS: Final[dict[SessionState, frozenset[SessionState]]] = {
    S.REGISTERED: frozenset({S.CAPTURING}) | _ANY_LIVE,
    S.CAPTURING: frozenset({S.UPLOADED, S.RETAKE}) | _ANY_LIVE,
    S.UPLOADED: frozenset({S.QUEUED, S.RETAKE}) | _ANY_LIVE,
    S.QUEUED: frozenset({S.TRAINING, S.RETAKE}) | _ANY_LIVE,
    S.TRAINING: frozenset({S.RENDERING, S.QUEUED}) | _ANY_LIVE,
    S.RENDERING: frozenset({S.MAIL_PENDING, S.NEEDS_REVIEW, S.QUEUED}) | _ANY_LIVE,
    S.NEEDS_REVIEW: frozenset({S.MAIL_PENDING, S.RETAKE, S.QUEUED}) | _ANY_LIVE,
    S.MAIL_PENDING: frozenset({S.DELIVERED, S.MAIL_FAILED, S.QUEUED}) | _ANY_LIVE,
    S.MAIL_FAILED: frozenset({S.MAIL_PENDING, S.QUEUED, S.RETAKE}) | _ANY_LIVE,
    S.DELIVERED: frozenset({S.MAIL_PENDING, S.QUEUED, S.DELETED}),  # re-send, re-render
    S.RETAKE: frozenset({S.CAPTURING}) | _ANY_LIVE,
    S.FAILED: frozenset({S.QUEUED, S.RETAKE, S.DELETED}),
    S.DELETED: frozenset(),
}


class TransitionError(ValueError):
    """A state change the session state machine does not allow."""


def can_transition(old: SessionState, new: SessionState) -> bool:
    return SessionState(new) in TRANSITIONS[SessionState(old)]


def check_transition(old: SessionState, new: SessionState) -> None:
    if not can_transition(old, new):
        allowed = ", ".join(sorted(TRANSITIONS[SessionState(old)])) or "nothing (final)"
        raise TransitionError(f"session cannot go from {old} to {new}; from {old}: {allowed}")


def sources_of(new: SessionState) -> frozenset[SessionState]:
    """Every state from which ``new`` may be entered (for atomic UPDATE ... WHERE)."""
    return frozenset(old for old, targets in TRANSITIONS.items() if new in targets)
