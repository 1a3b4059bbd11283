"""render: each booth's rendition layout (solo | side-by-side)

Revision ID: 0007_booth_layout
Revises: 0006_mail_outbox
Create Date: 2026-12-02 23:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_booth_layout"
down_revision: str | None = "0006_mail_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booths") as batch:
        batch.add_column(
            sa.Column("layout", sa.String(length=16), nullable=False, server_default="solo")
        )


def downgrade() -> None:
    with op.batch_alter_table("booths") as batch:
        batch.drop_column("layout")
