"""uploads and diagnostics (issue 14): the ``synthetic`` flag

Answers made by ``qet survey synthesize`` (SYN- respondent ids, a ``synthetic`` column) must never
pass for a survey. An upload now records whether its file is synthetic, and a diagnostic whether
its campaign is (a diagnostic never mixes synthetic and real uploads; every API answer and export
about it carries the flag). Rows stored before this migration are taken as real: the stored
respondents keep neither their ids (keyed pseudonyms) nor the file's ``synthetic`` column, so a
synthetic file uploaded before it cannot be recognised afterwards; delete such uploads and send
them again to have them labelled.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 10:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (SQLite takes it with a constant default): a batch rebuild of
    # "diagnostics" would drop the old table, and its ON DELETE CASCADE would empty the uploads
    for table in ("diagnostics", "uploads"):
        op.add_column(
            table, sa.Column("synthetic", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    for table in ("uploads", "diagnostics"):
        op.drop_column(table, "synthetic")
