"""profiles.synthetic: national profiles fitted on synthetic answers only say so

``qet_geo.store.jobs.fit_national_profiles`` fits the national reference profiles on synthetic
campaigns only when no real campaign has 11 complete answers (a demonstration). Until 0014 only
the fit's own answer said so; ``GET /national/profiles`` read the stored profiles without the
label. Stored profiles are read as real (the fit labels the next ones).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch rebuild of a table others point to: see 0008)
    op.add_column(
        "profiles", sa.Column("synthetic", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("profiles", "synthetic")
