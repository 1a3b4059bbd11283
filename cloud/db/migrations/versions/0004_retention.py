"""retention: tombstone stamps of what was removed from a session, and when

Revision ID: 0004_retention
Revises: 0003_api
Create Date: 2026-11-22 01:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_retention"
down_revision: str | None = "0003_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("captures_deleted_at", "model_deleted_at", "rendition_deleted_at")


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
