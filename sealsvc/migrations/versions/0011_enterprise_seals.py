"""Enterprise seal sets issued with the 营业执照 ("1+X", issue #21 §2).

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-04

* ``departments.kind`` gains ``enterprise``: an enterprise holds its seals as a
  department does (see :func:`_replace_kind_check` for SQLite);
* ``seals.image_design``: the shape and size of a seal's drawn image (JSON); existing
  seals keep ``NULL``, the round 42 mm seal they were drawn as;
* ``enterprises``: credit code, name, legal representative, the department holding the
  seals and the number of the licence whose lifecycle they follow.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
_OLD_KINDS = "kind IN ('government', 'department', 'public_service_unit', 'management_committee')"
_NEW_KINDS = (
    "kind IN ('government', 'department', 'public_service_unit', 'management_committee', "
    "'enterprise')"
)


def _replace_kind_check(old: str, new: str) -> None:
    """Swap the departments' kind CHECK, as 0005 swaps the certificates' profile CHECK.

    PostgreSQL alters the constraint in place. SQLite cannot, and rebuilding the table
    would drop rows that seals and keys point at, so the recorded ``CREATE TABLE`` text
    is edited and the schema version bumped (SQLite's documented way for a CHECK change
    that leaves the stored rows valid).
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_departments_kind"), "departments", type_="check")
        op.create_check_constraint(op.f("ck_departments_kind"), "departments", new)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'departments'"
    ).scalar_one()
    if old not in sql:
        raise RuntimeError("the departments table does not have the expected kind CHECK")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'departments'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _replace_kind_check(_OLD_KINDS, _NEW_KINDS)
    op.add_column("seals", sa.Column("image_design", sa.Text(), nullable=True))
    op.create_table(
        "enterprises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("legal_representative", sa.String(length=50), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("licence_number", sa.String(length=64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("closed_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_enterprises_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprises")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_enterprises_credit_code")),
        sa.UniqueConstraint("department_id", name=op.f("uq_enterprises_department_id")),
    )
    op.create_index(
        op.f("ix_enterprises_licence_number"), "enterprises", ["licence_number"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_enterprises_licence_number"), table_name="enterprises")
    op.drop_table("enterprises")
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): batch mode would copy and drop
    # the seals table, which the certificates' foreign keys refuse once seals exist.
    op.drop_column("seals", "image_design")
    _replace_kind_check(_NEW_KINDS, _OLD_KINDS)
