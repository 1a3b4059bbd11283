"""Every timestamp comes back from the database as an aware UTC datetime, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import StatementError

from cloud.db.engine import session_factory, transaction
from cloud.db.models import Booth, Session

PARIS = timezone(timedelta(hours=1))


def test_timestamps_come_back_aware_in_utc(engine: Engine) -> None:
    at = datetime(2026, 12, 2, 16, 31, 4, 954852, tzinfo=PARIS)
    with transaction(session_factory(engine)) as db:
        db.add(Booth(id="b1"))
        db.add(Session(id="s1", booth_id="b1", created_at=at, consent_at=at))
    with session_factory(engine)() as db:
        row = db.get(Session, "s1")
        assert row is not None
        for value in (row.created_at, row.consent_at, row.updated_at):
            assert value is not None and value.utcoffset() == timedelta(0), value
        assert row.created_at == at and row.created_at.hour == 15
        # Comparisons in SQL see the same instant whatever zone the bound value has.
        later = db.scalars(select(Session.id).where(Session.created_at > at - timedelta(seconds=1)))
        assert list(later) == ["s1"]


def test_a_naive_timestamp_is_refused(engine: Engine) -> None:
    factory = session_factory(engine)
    with pytest.raises(StatementError, match="naive datetime"), transaction(factory) as db:
        db.add(Booth(id="b1", created_at=datetime(2026, 12, 2, 15, 31)))
    with session_factory(engine)() as db:
        assert db.get(Booth, "b1") is None


def test_utc_instants_round_trip_exactly(engine: Engine) -> None:
    at = datetime.now(UTC)
    with transaction(session_factory(engine)) as db:
        db.add(Booth(id="b2", created_at=at))
    with session_factory(engine)() as db:
        assert db.scalar(select(Booth.created_at).where(Booth.id == "b2")) == at
