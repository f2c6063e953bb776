"""the unaccent extension (PostgreSQL only), for the projects library's French full-text search

The network's projects library (``qet_geo.store.library``) searches the project sheets with
``to_tsvector('french', unaccent(...))`` so that "velo" finds "vélos". The extension ships with
PostgreSQL's contrib modules; creating it needs the right to (a superuser, or a trusted
extension). When it cannot be created the migration goes on: the library then searches without
removing accents (it checks ``pg_extension`` at each search). Nothing on SQLite, which the
library searches in Python.

The downgrade leaves the extension in place: no table depends on it, and it may serve
something else of the database.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 19:40:00
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

logger = logging.getLogger(__name__)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        # a savepoint: a refusal must not abort the migration's transaction
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
    except sa.exc.DBAPIError as error:
        logger.warning(
            "unaccent could not be created (%s): the projects library will search without "
            "removing accents",
            type(error.orig).__name__,
        )


def downgrade() -> None:
    pass
