"""live mirror: a visitor's consent to be shown live, the booth's chosen wearers and what
each mirror reports it wears

Revision ID: 0013_mirror_wearers
Revises: 0012_quality_gate
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_mirror_wearers"
down_revision: str | None = "0012_quality_gate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("mirror_consent_until", sa.DateTime(timezone=True)))
    with op.batch_alter_table("booths") as batch:
        batch.add_column(sa.Column("mirror_wearers", sa.JSON(), nullable=True))
    op.create_table(
        "mirror_status",
        sa.Column("booth_id", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("wearing", sa.String(200), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("booth_id", "node_id", name=op.f("pk_mirror_status")),
    )


def downgrade() -> None:
    op.drop_table("mirror_status")
    with op.batch_alter_table("booths") as batch:
        batch.drop_column("mirror_wearers")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("mirror_consent_until")
