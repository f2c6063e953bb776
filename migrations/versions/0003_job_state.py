"""analysis job state: the running step and the stored reason (French and English)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("diagnostics") as batch_op:
        batch_op.add_column(sa.Column("job_step", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("job_message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diagnostics") as batch_op:
        batch_op.drop_column("job_message")
        batch_op.drop_column("job_step")
