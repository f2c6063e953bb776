"""the territory portal (issue 16): a public address per neighbourhood, its six phases, paper counts

- ``neighbourhoods.slug``: the portal's address ``/q/{slug}`` (unique; null until the team sets
  it). Existing neighbourhoods get none: their portal is not reachable until their team names it.
- ``phases``: per neighbourhood and phase of the method (diagnostic, forum, sensibilisation,
  inspiration, mise en œuvre, second diagnostic) its state, dates, place and the team's note
  (Markdown, rendered sanitised).
- ``paper_counts``: each team member's count of a vote's paper ballots (per theme, and blank),
  entered independently and reconciled when two agree.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN and a unique index: a batch rebuild of "neighbourhoods" on SQLite would
    # drop the old table, and its ON DELETE CASCADE would empty the diagnostics
    op.add_column("neighbourhoods", sa.Column("slug", sa.String(length=60), nullable=True))
    op.create_index(op.f("ix_neighbourhoods_slug"), "neighbourhoods", ["slug"], unique=True)
    op.create_table(
        "phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("neighbourhood_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["neighbourhood_id"], ["neighbourhoods.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("neighbourhood_id", "key", name="uq_phase"),
    )
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phases_neighbourhood_id"), ["neighbourhood_id"], unique=False
        )
    op.create_table(
        "paper_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("blank", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vote_id", "user_id", name="uq_paper_count"),
    )
    with op.batch_alter_table("paper_counts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_paper_counts_vote_id"), ["vote_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("paper_counts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_paper_counts_vote_id"))
    op.drop_table("paper_counts")
    with op.batch_alter_table("phases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phases_neighbourhood_id"))
    op.drop_table("phases")
    op.drop_index(op.f("ix_neighbourhoods_slug"), table_name="neighbourhoods")
    op.drop_column("neighbourhoods", "slug")  # plain DROP COLUMN, no rebuild (as 0008)
