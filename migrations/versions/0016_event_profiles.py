"""events.profiles, events.profile_registrations: workshops to which a usage profile is invited

Phase 3-5 workshops may invite the residents who share a usage profile, through an opt-in that
never reveals anyone's profile: the forum's profile poster (the profile's description and a QR
code) leads to a public page listing the workshops that invite that profile, where anyone may
register by count. ``profiles`` lists the invited profile numbers of the event's campaign release;
``profile_registrations`` counts, per profile number (text keys), the registrations made from that
profile's page (a count, never a person; shown under the >= 11 rule).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 19:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # plain ADD COLUMN (no batch rebuild of a table others point to: see 0008)
    op.add_column("events", sa.Column("profiles", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column(
        "events",
        sa.Column("profile_registrations", sa.JSON(), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_column("events", "profile_registrations")
    op.drop_column("events", "profiles")
