"""The database: typed models, engine set-up, migrations and the session state machine."""

from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database
from cloud.db.states import SessionState, TransitionError

__all__ = [
    "SessionState",
    "TransitionError",
    "make_engine",
    "session_factory",
    "transaction",
    "upgrade_database",
]
