"""releases: no stored map page

A release stored the HTML of its profiles map, rendered when it was made. The service draws the
map of a release per request from the release's frozen cells (``api/routers/maps.py``: the
basemap of the stored extract, a title and legend, French or English, cached per language), so
the stored page was never read again; making it cost a map render per release. The column goes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+ and PostgreSQL): a batch rebuild of "releases" is not
    # needed and would copy every release
    op.drop_column("releases", "map_html")


def downgrade() -> None:
    op.add_column("releases", sa.Column("map_html", sa.Text(), nullable=True))
