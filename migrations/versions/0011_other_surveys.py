"""the other surveys in the store (issue 15): MdV/EdV and NosGestesClimat answers

A pilot team uploads, beside the SU answers, the MdV/EdV ("modes de vie", "espaces de vie")
answers and the NosGestesClimat results of its diagnostic. Each row is kept under the same
keyed pseudonym as the SU respondents (so that the surveys of one person link), with protected
locations only (200 m cell, building key). ``uploads.kind`` (already there) says which survey a
file holds. Existing stores get the empty table.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("diagnostic_id", sa.Integer(), nullable=False),
        sa.Column("upload_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("pseudo_id", sa.String(length=64), nullable=False),
        sa.Column("cell_id", sa.String(length=40), nullable=True),
        sa.Column("building_key", sa.String(length=80), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["diagnostic_id"], ["diagnostics.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["upload_id"], ["uploads.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("diagnostic_id", "kind", "pseudo_id", name="uq_survey_answer"),
    )
    op.create_index("ix_survey_answers_diagnostic_id", "survey_answers", ["diagnostic_id"])
    op.create_index("ix_survey_answers_upload_id", "survey_answers", ["upload_id"])
    op.create_index("ix_survey_answers_cell_id", "survey_answers", ["cell_id"])


def downgrade() -> None:
    op.drop_table("survey_answers")
