"""profiles.published: the national reference profiles' page is public once staff publish it

The network's page of national usage profiles and their trend (/reseau/profils) is read by
network staff, and by the public once staff publish it. The flag is kept on the national profile
rows: a new fit (qet_geo.store.jobs.fit_national_profiles) writes new rows, unpublished, which
staff review and publish again. Stored profiles are unpublished.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 19:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch rebuild of a table others point to: see 0008)
    op.add_column(
        "profiles", sa.Column("published", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    op.drop_column("profiles", "published")
