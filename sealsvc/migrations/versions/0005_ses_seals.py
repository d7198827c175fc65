"""GB/T 38540 seal objects (``ses_seals``) and the seal maker's certificate profile.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

SM2 seals issued before this revision have no ``SESeal`` row; ``sealctl seal ses-backfill``
makes theirs (it needs the key store, which a migration does not open).  The certificates'
profile CHECK gains ``seal_maker`` (see :func:`_replace_profile_check` for SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
_OLD_PROFILES = "profile IN ('root_ca', 'issuing_ca', 'seal', 'tsa', 'ocsp')"
_NEW_PROFILES = "profile IN ('root_ca', 'issuing_ca', 'seal', 'tsa', 'ocsp', 'seal_maker')"


def _replace_profile_check(old: str, new: str) -> None:
    """Swap the certificates' profile CHECK for one with ``new``'s list of values.

    PostgreSQL alters the constraint in place.  SQLite cannot; rebuilding the table (batch
    mode) would drop rows that seals, CRLs and certificates point at, which its foreign
    keys refuse inside a transaction (``PRAGMA foreign_keys`` cannot change in one).  So,
    as SQLite's ALTER TABLE documentation prescribes for a change to a CHECK constraint that
    leaves the stored rows as they are, the table's recorded ``CREATE TABLE`` text is edited
    and the schema version bumped, in this migration's transaction.
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_certificates_profile"), "certificates", type_="check")
        op.create_check_constraint(op.f("ck_certificates_profile"), "certificates", new)
        return
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'certificates'"
    ).scalar_one()
    if old not in sql:
        raise RuntimeError("the certificates table does not have the expected profile CHECK")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'certificates'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _replace_profile_check(_OLD_PROFILES, _NEW_PROFILES)
    op.create_table(
        "ses_seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seal_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("maker_certificate_id", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("valid_start", TIMESTAMP, nullable=False),
        sa.Column("valid_end", TIMESTAMP, nullable=False),
        sa.Column("superseded_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "reason IN ('issue', 'rotate', 'renew', 'image', 'backfill')",
            name=op.f("ck_ses_seals_reason"),
        ),
        sa.ForeignKeyConstraint(["seal_id"], ["seals.id"], name=op.f("fk_ses_seals_seal_id_seals")),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_ses_seals_certificate_id_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["maker_certificate_id"],
            ["certificates.id"],
            name=op.f("fk_ses_seals_maker_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ses_seals")),
        sa.UniqueConstraint("sha256", name=op.f("uq_ses_seals_sha256")),
    )
    op.create_index(op.f("ix_ses_seals_seal_id"), "ses_seals", ["seal_id"])
    op.create_index(
        "uq_ses_seals_current",
        "ses_seals",
        ["seal_id"],
        unique=True,
        sqlite_where=sa.text("superseded_at IS NULL"),
        postgresql_where=sa.text("superseded_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_ses_seals_current", table_name="ses_seals")
    op.drop_index(op.f("ix_ses_seals_seal_id"), table_name="ses_seals")
    op.drop_table("ses_seals")
    op.execute("DELETE FROM certificates WHERE profile = 'seal_maker'")
    _replace_profile_check(_NEW_PROFILES, _OLD_PROFILES)
