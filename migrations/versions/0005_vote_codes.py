"""vote codes: keyed hashes with a spent flag, and ballot counters instead of linked ballots

Until 0004 a vote kept the SHA-256 of its 32-bit codes in a list (``votes.participant_codes``)
and each ballot beside the SHA-256 of its code (``ballots.participant_hash``): a copy of the
database linked every ballot to its code's holder. From 0005 a code is a row of ``vote_codes``
(its HMAC under a key kept outside the database, ``qet_geo.store.models.vote_code_key``, and a spent
flag) and a vote's ballots are counters per theme (``ballot_counts``); ``ballots`` and
``votes.participant_codes`` are dropped.

Existing votes are carried over: each old code is re-keyed as the HMAC of
``legacy:<its SHA-256>`` (the service still takes the old 8-digit codes of these votes, through
the same hash), marked spent if a ballot used it, and the old ballots are added to the counters
of their themes; then the old ballots and hashes are gone. The migration therefore needs the
service's key (``QET_PSEUDONYM_KEY`` or ``QET_KEY_DIR``) when there are votes. The old codes keep
their 32 bits (rate-limited like the new ones): open new votes for new campaigns.

Downgrade is lossy: the tables come back empty (``participant_codes`` an empty list, no ballot),
since neither the codes nor the ballots one by one can be rebuilt; the votes themselves stay.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def upgrade() -> None:
    conn = op.get_bind()
    # read first: on SQLite, dropping a column rebuilds "votes", and dropping the old table
    # then deletes (ON DELETE CASCADE) the rows of every table that points to it
    votes = conn.execute(sa.text("SELECT id, themes, participant_codes FROM votes")).all()
    ballots = conn.execute(sa.text("SELECT vote_id, participant_hash, choices FROM ballots")).all()
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ballots_vote_id"))
    op.drop_table("ballots")
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_column("participant_codes")
    op.create_table(
        "vote_codes",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("code_hmac", sa.String(length=64), nullable=False),
        sa.Column("spent", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vote_id", "code_hmac"),
    )
    op.create_table(
        "ballot_counts",
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("vote_id", "position"),
    )
    if not votes:
        return
    from qet_geo.store.models import vote_code_hmac, vote_code_key

    key = vote_code_key()
    for vote_id, themes_raw, codes_raw in votes:
        themes = list(_json(themes_raw) or [])
        cast = [(h, _json(c) or []) for v, h, c in ballots if v == vote_id]
        spent = {h for h, _ in cast}
        rows = sorted(
            (vote_code_hmac(vote_id, f"legacy:{h}", key=key), h in spent)
            for h in set(_json(codes_raw) or [])
        )
        if rows:
            conn.execute(
                sa.text("INSERT INTO vote_codes (vote_id, code_hmac, spent) VALUES (:v, :h, :s)"),
                [{"v": vote_id, "h": h, "s": s} for h, s in rows],
            )
        counts = [sum(theme in choices for _, choices in cast) for theme in themes]
        if counts:
            conn.execute(
                sa.text("INSERT INTO ballot_counts (vote_id, position, n) VALUES (:v, :p, :n)"),
                [{"v": vote_id, "p": i, "n": n} for i, n in enumerate(counts)],
            )


def downgrade() -> None:
    op.drop_table("ballot_counts")
    op.drop_table("vote_codes")
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("participant_codes", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.alter_column("participant_codes", server_default=None)
    op.create_table(
        "ballots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("participant_hash", sa.String(length=64), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["vote_id"], ["votes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("vote_id", "participant_hash", name="uq_ballot"),
    )
    with op.batch_alter_table("ballots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ballots_vote_id"), ["vote_id"], unique=False)
