"""uploads (issue 12, item 4): idempotency keys scoped to their caller

An ``Idempotency-Key`` was unique across the whole store: a key used by one pilot team was
refused to another (which learnt that the key existed, and could squat keys). Each upload now
records whose key it is (``key_scope``, the caller's credential) and a key is unique within its
scope only. Keys stored before this migration get the scope "" (that of ``ingest_su`` called
outside the service): no caller of the service finds them any more, which only means that a
retry of an upload sent before the migration is recognised by its file, not by its key.
Uploads may now be deleted: on SQLite the table gets ``AUTOINCREMENT`` so that the id of a
deleted upload is never given to a new one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # On SQLite the table is rebuilt with AUTOINCREMENT: ids of deleted uploads are not reused.
    with op.batch_alter_table(
        "uploads", recreate="auto", table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.add_column(
            sa.Column("key_scope", sa.String(length=80), nullable=False, server_default="")
        )
        batch_op.drop_constraint("uq_upload_key", type_="unique")
        batch_op.create_unique_constraint("uq_upload_key", ["key_scope", "idempotency_key"])


def downgrade() -> None:
    # one key may now be held by several callers: keep it on the oldest upload only
    op.execute(
        "UPDATE uploads SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND id NOT "
        "IN (SELECT MIN(id) FROM uploads WHERE idempotency_key IS NOT NULL "
        "GROUP BY idempotency_key)"
    )
    with op.batch_alter_table("uploads") as batch_op:
        batch_op.drop_constraint("uq_upload_key", type_="unique")
        batch_op.create_unique_constraint("uq_upload_key", ["idempotency_key"])
        batch_op.drop_column("key_scope")
