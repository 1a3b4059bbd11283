"""delivery: the mail outbox (each email recorded with its link before it is sent)

Revision ID: 0006_mail_outbox
Revises: 0005_operator_logins
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_mail_outbox"
down_revision: str | None = "0005_operator_logins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("pending", "sending", "sent", "failed", "superseded")


def upgrade() -> None:
    op.create_table(
        "mails",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="mail_state", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_mails_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mails")),
        sa.UniqueConstraint("key", name=op.f("uq_mails_key")),
    )
    op.create_index("ix_mails_state_next", "mails", ["state", "next_attempt_at"])
    op.create_index(op.f("ix_mails_session_id"), "mails", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_mails_session_id"), table_name="mails")
    op.drop_index("ix_mails_state_next", table_name="mails")
    op.drop_table("mails")
