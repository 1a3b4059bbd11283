"""capture_qa: each session's capture QA verdict and the operator's decision, the
booth setting that queues fine-tunes despite a suggested retake, and each session's
capture start and length (for the stage screen)

Revision ID: 0011_capture_qa
Revises: 0010_dances
Create Date: 2026-12-03 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_capture_qa"
down_revision: str | None = "0010_dances"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "capture_qa",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_capture_qa_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_capture_qa")),
    )
    with op.batch_alter_table("booths") as batch_op:
        batch_op.add_column(sa.Column("qa_auto_accept", sa.Boolean(), nullable=True))
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("capture_start_at", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("capture_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("capture_s")
        batch_op.drop_column("capture_start_at")
    with op.batch_alter_table("booths") as batch_op:
        batch_op.drop_column("qa_auto_accept")
    op.drop_table("capture_qa")
