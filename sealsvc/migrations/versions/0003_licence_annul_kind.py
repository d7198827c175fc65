"""Licences record how they were annulled: 吊销 (revoked) or 注销 (cancelled).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Licences annulled before this revision keep ``annul_kind`` NULL (shown as 吊销/注销):
which one it was is not known and is not guessed.  Batch mode, because SQLite cannot add
a CHECK constraint to an existing table; it rebuilds the table there and alters it in
place on PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.add_column(sa.Column("annul_kind", sa.String(length=16), nullable=True))
        batch.create_check_constraint(
            op.f("ck_licences_annul_kind"), "annul_kind IN ('revoked', 'cancelled')"
        )


def downgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint(op.f("ck_licences_annul_kind"), type_="check")
        batch.drop_column("annul_kind")
