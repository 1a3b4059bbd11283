"""quality gate: the rendition checks' figures (dancer missing, pose error, appearance
and its drift) beside held-out SSIM and flicker

Revision ID: 0012_quality_gate
Revises: 0011_capture_qa
Create Date: 2026-12-03 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_quality_gate"
down_revision: str | None = "0011_capture_qa"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("dancer_missing", "pose_error", "appearance", "appearance_drift")


def upgrade() -> None:
    with op.batch_alter_table("renditions") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("renditions") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
