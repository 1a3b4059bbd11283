"""api: renditions (video key, quality figures, link token digest)

Revision ID: 0003_api
Revises: 0002_api
Create Date: 2026-11-22 00:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_api"
down_revision: str | None = "0002_api"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "renditions",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("video_key", sa.String(length=512), nullable=False),
        sa.Column("dance", sa.String(length=64), nullable=False),
        sa.Column("held_out_ssim", sa.Float(), nullable=True),
        sa.Column("flicker", sa.Float(), nullable=True),
        sa.Column("review_reasons", sa.Text(), nullable=True),
        sa.Column("token_digest", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_renditions_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_renditions")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_renditions_token_digest")),
    )


def downgrade() -> None:
    op.drop_table("renditions")
