"""GB/T 36904 licence identifiers: departments get a 统一社会信用代码, licences an identifier.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Both columns are nullable.  Departments imported before this revision get their credit
code when the seed is imported again (``import_seed`` fills a missing code, never replaces
one) or from ``sealctl dept set-credit-code``.  Licences issued before it keep
``identifier`` NULL: the identifier they would have had is not made up after the fact.
Batch mode, because SQLite cannot add a unique constraint to an existing table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("departments") as batch:
        batch.add_column(sa.Column("credit_code", sa.String(length=18), nullable=True))
    with op.batch_alter_table("licences") as batch:
        batch.add_column(sa.Column("identifier", sa.String(length=160), nullable=True))
        batch.create_unique_constraint(op.f("uq_licences_identifier"), ["identifier"])


def downgrade() -> None:
    with op.batch_alter_table("licences") as batch:
        batch.drop_constraint(op.f("uq_licences_identifier"), type_="unique")
        batch.drop_column("identifier")
    with op.batch_alter_table("departments") as batch:
        batch.drop_column("credit_code")
