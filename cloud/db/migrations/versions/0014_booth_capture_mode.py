"""booths.capture_mode: guided or free dance chosen per booth (None: the deployment's)

Revision ID: 0014_booth_capture_mode
Revises: 0013_mirror_wearers
Create Date: 2026-12-03 07:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_booth_capture_mode"
down_revision: str | None = "0013_mirror_wearers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booths") as batch:
        batch.add_column(sa.Column("capture_mode", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booths") as batch:
        batch.drop_column("capture_mode")
