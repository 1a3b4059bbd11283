"""api: operator accounts, the job's last completed step

Revision ID: 0002_api
Revises: 0001
Create Date: 2026-11-22 00:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_api"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("name", name=op.f("uq_operators_name")),
    )
    with op.batch_alter_table("jobs") as batch:
        # The last step the worker finished: a re-claimed job resumes after it.
        batch.add_column(sa.Column("step", sa.String(length=32), nullable=True))
    with op.batch_alter_table("sessions") as batch:
        # Polled by every API process for server-sent events.
        batch.create_index("ix_sessions_updated_at", ["updated_at"])
    with op.batch_alter_table("jobs") as batch:
        batch.create_index("ix_jobs_updated_at", ["updated_at"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_updated_at")
        batch.drop_column("step")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_updated_at")
    op.drop_table("operators")
