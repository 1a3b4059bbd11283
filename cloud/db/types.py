"""Column types: every timestamp is stored and read back as an aware UTC datetime.

PostgreSQL's ``timestamptz`` keeps the instant but hands it back in the connection's
time zone; SQLite keeps no zone at all and hands back naive values. Both go through
:class:`UtcDateTime`, so the rest of the code (and the API's JSON) only ever sees UTC
with its offset.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that refuses naive input and always returns UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(
                f"naive datetime {value.isoformat()} given to the database: "
                "use an aware UTC time (cloud.db.models.utcnow())"
            )
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite: what we stored was UTC
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
