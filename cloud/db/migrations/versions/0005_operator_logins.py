"""operator logins: server-side sessions, so logout and a new password end them

Revision ID: 0005_operator_logins
Revises: 0004_retention
Create Date: 2026-12-02 17:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_operator_logins"
down_revision: str | None = "0004_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "operator_logins",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["operators.id"],
            name="fk_operator_logins_operator_id_operators",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name="pk_operator_logins"),
    )
    op.create_index("ix_operator_logins_operator_id", "operator_logins", ["operator_id"])
    op.create_index("ix_operator_logins_expires_at", "operator_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_operator_logins_expires_at", table_name="operator_logins")
    op.drop_index("ix_operator_logins_operator_id", table_name="operator_logins")
    op.drop_table("operator_logins")
