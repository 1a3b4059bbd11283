"""dances: the operators' dance library, each booth's enabled dances and rotation, and
the dance a visitor performs

Revision ID: 0010_dances
Revises: 0009_plates
Create Date: 2026-12-02 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_dances"
down_revision: str | None = "0009_plates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("adding", "ready", "refused", "failed")


def upgrade() -> None:
    op.create_table(
        "dances",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="dance_state", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("upload", sa.String(length=1024), nullable=True),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_dances")),
    )
    op.create_table(
        "booth_dances",
        sa.Column("booth_id", sa.String(length=64), nullable=False),
        sa.Column("dance", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booth_id"],
            ["booths.id"],
            name=op.f("fk_booth_dances_booth_id_booths"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("booth_id", "dance", name=op.f("pk_booth_dances")),
    )
    with op.batch_alter_table("booths") as batch_op:
        batch_op.add_column(
            sa.Column("rotation", sa.String(length=16), nullable=False, server_default="order")
        )
        batch_op.add_column(
            sa.Column("rotation_next", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.add_column(sa.Column("dance", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch_op:
        batch_op.drop_column("dance")
    with op.batch_alter_table("booths") as batch_op:
        batch_op.drop_column("rotation_next")
        batch_op.drop_column("rotation")
    op.drop_table("booth_dances")
    op.drop_table("dances")
