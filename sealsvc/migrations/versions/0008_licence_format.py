"""Licences record the format they were issued in: PDF or OFD.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

Every licence issued before this revision is a PDF, so the column is NOT NULL with the
server default ``pdf``: existing rows get it as the column is added.  Batch mode, because
SQLite cannot add a CHECK constraint to an existing table (as in 0003).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.add_column(
            sa.Column("format", sa.String(length=8), nullable=False, server_default="pdf")
        )
        batch.create_check_constraint(
            op.f("ck_licences_licence_format"), "format IN ('pdf', 'ofd')"
        )


def downgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint(op.f("ck_licences_licence_format"), type_="check")
        batch.drop_column("format")
