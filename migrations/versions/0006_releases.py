"""releases: frozen, numbered publications of a diagnostic's figures (issue 12, item 2)

The public reads a diagnostic's figures only from its latest release; two releases of one
diagnostic differ by 0 or at least 11 respondents (``docs/privacy.md``, rule 5). Existing stores
get the empty table: nothing is public until a pilot team publishes a release.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("diagnostic_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("n_respondents", sa.Integer(), nullable=False),
        sa.Column("respondent_ids", sa.JSON(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("map_html", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["diagnostic_id"], ["diagnostics.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("diagnostic_id", "number", name="uq_release_number"),
    )
    op.create_index(op.f("ix_releases_diagnostic_id"), "releases", ["diagnostic_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_releases_diagnostic_id"), table_name="releases")
    op.drop_table("releases")
