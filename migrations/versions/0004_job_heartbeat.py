"""analysis job heartbeat: when the job state was last written, and the run holding the job

A queued or running job whose state has not been written for longer than the service's
``job_timeout_s`` is taken as abandoned (its process was killed) and may be run again. Rows
migrated from 0003 have no time yet: a job they show as queued or running is abandoned at once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("diagnostics") as batch_op:
        batch_op.add_column(sa.Column("job_updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("job_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diagnostics") as batch_op:
        batch_op.drop_column("job_id")
        batch_op.drop_column("job_updated_at")
