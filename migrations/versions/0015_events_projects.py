"""the portal's workshops and projects (issue 16): events and project sheets

- ``events``: a neighbourhood's meetings and workshops (phases 2 to 5): before (title, kind,
  date, place, agenda, capacity, registrations as a count) and after (minutes, attendance and
  contributions counts, outputs), public once published.
- ``projects``: project sheets (problem, theme, usage, profiles concerned, place, holders and
  partners, budget and funding, dates, status, milestones, indicators, expected effect in kgCO2e
  per year with its assumptions), public once published.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 17:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("neighbourhood_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("place", sa.String(length=300), nullable=False),
        sa.Column("agenda", sa.Text(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("registrations", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Text(), nullable=False),
        sa.Column("attendance", sa.Integer(), nullable=True),
        sa.Column("contributions", sa.Integer(), nullable=True),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["neighbourhood_id"], ["neighbourhoods.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_events_neighbourhood_id"), "events", ["neighbourhood_id"])
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("neighbourhood_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("theme", sa.String(length=200), nullable=False),
        sa.Column("usage", sa.String(length=40), nullable=True),
        sa.Column("profiles", sa.JSON(), nullable=False),
        sa.Column("place_wkt", sa.Text(), nullable=True),
        sa.Column("holders", sa.Text(), nullable=False),
        sa.Column("partners", sa.Text(), nullable=False),
        sa.Column("budget_eur", sa.Float(), nullable=True),
        sa.Column("funding", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("milestones", sa.JSON(), nullable=False),
        sa.Column("indicators", sa.JSON(), nullable=False),
        sa.Column("effect", sa.JSON(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["neighbourhood_id"], ["neighbourhoods.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_projects_neighbourhood_id"), "projects", ["neighbourhood_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_projects_neighbourhood_id"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_events_neighbourhood_id"), table_name="events")
    op.drop_table("events")
