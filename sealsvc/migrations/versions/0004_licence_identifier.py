"""GB/T 36904 licence identifiers: departments get a 统一社会信用代码, licences an identifier.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Both columns are nullable.  Departments imported before this revision get their credit
code when the seed is imported again (``import_seed`` fills a missing code, never replaces
one) or from ``sealctl dept set-credit-code``.  Licences issued before it keep
``identifier`` NULL: the identifier they would have had is not made up after the fact.
A unique index rather than a unique constraint, and no batch mode: SQLite (3.35 and
later) then adds and drops both columns in place, where batch mode would rebuild the
tables and trip over the foreign keys pointing at departments that hold rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("departments", sa.Column("credit_code", sa.String(length=18), nullable=True))
    op.add_column("licences", sa.Column("identifier", sa.String(length=160), nullable=True))
    op.create_index(op.f("ix_licences_identifier"), "licences", ["identifier"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_licences_identifier"), table_name="licences")
    op.drop_column("licences", "identifier")
    op.drop_column("departments", "credit_code")
