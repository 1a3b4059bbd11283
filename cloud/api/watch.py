"""The visitor's side of a rendition: open it by link token, stream it, delete their data.

Only the token's SHA-256 is stored, so a lookup hashes the presented token and
finds the row by digest; :func:`cloud.delivery.tokens.check_token` then compares
in constant time and tells an expired link (410) from an unknown one (404).
"""

from __future__ import annotations

import io
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session as Db

from cloud.api import visits
from cloud.api.errors import GoneError, NotFoundError
from cloud.db.models import Rendition
from cloud.db.states import SessionState
from cloud.delivery.errors import ExpiredTokenError, InvalidTokenError
from cloud.delivery.mailer import Mailer
from cloud.delivery.tokens import check_token, token_digest, well_formed
from cloud.jobs.queue import as_utc
from cloud.render.credentials import Credentials
from cloud.retention import ALL_PARTS, Removal, erase
from cloud.storage import Storage, StorageError
from cloud.storage.local import LocalStorage

logger = logging.getLogger(__name__)

# A link opens while its email is out (or just delivered): the server may have taken
# the email before the outbox wrote "sent".
LINKED = (SessionState.DELIVERED, SessionState.MAIL_PENDING, SessionState.MAIL_FAILED)


def open_rendition(db: Db, token: str) -> Rendition:
    """The rendition this link opens; NotFoundError (404) or GoneError (410) otherwise."""
    if not well_formed(token):
        raise NotFoundError("this link is not valid: check that it was copied whole")
    row = db.scalar(select(Rendition).where(Rendition.token_digest == token_digest(token)))
    if row is None or row.token_digest is None or row.expires_at is None:
        raise NotFoundError("this link is not valid (or the video was deleted)")
    try:
        check_token(token, row.token_digest, as_utc(row.expires_at))
    except ExpiredTokenError as exc:
        raise GoneError(f"{exc}; the video has been removed") from None
    except InvalidTokenError as exc:
        raise NotFoundError(str(exc)) from None
    session = visits.get_session(db, row.session_id)  # NotFoundError once deleted
    if session.state not in LINKED:
        raise NotFoundError("this video is not available")
    return row


def delete_everything(
    db: Db, storage: Storage, session_id: str, mailer: Mailer | None = None
) -> int:
    """Erase every row and object of the visitor, and the copies of their emails
    ``mailer`` keeps, leaving an anonymised tombstone.

    The same :func:`cloud.retention.erase` the retention sweep uses; NotFoundError for
    an unknown or already deleted session.
    """
    visits.get_session(db, session_id)
    removal = Removal(session_id, ALL_PARTS, visitor=True, why="request")
    return len(erase(db, storage, removal, mailer=mailer).objects)


def content_credentials(storage: Storage, key: str) -> Credentials:
    """The content credentials of the stored video, read back from its bytes (what the
    visitor downloads), not from what the database says was signed."""
    from cloud.render.credentials import read_credentials, read_stream

    if isinstance(storage, LocalStorage):
        path = storage.root / key
        return read_credentials(path) if path.is_file() else Credentials(state="none")
    try:
        return read_stream(io.BytesIO(storage.get(key)))
    except StorageError:
        return Credentials(state="none")
