"""Initial schema: departments, seals, certificates, CRLs, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23

``seals.current_certificate_id`` and ``certificates.seal_id`` reference each other. SQLite
accepts a foreign key to a table that does not exist yet (and cannot ``ALTER TABLE ADD
CONSTRAINT``), so there it is declared inline; PostgreSQL gets it by ``ALTER TABLE`` once
both tables exist. The audit chain head starts at seq 0 with the all-zero genesis hash.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"

    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "kind IN ('government', 'department', 'public_service_unit', 'management_committee')",
            name=op.f("ck_departments_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["departments.id"], name=op.f("fk_departments_parent_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_index(op.f("ix_departments_parent_id"), "departments", ["parent_id"])
    op.create_index(
        "uq_departments_active_name",
        "departments",
        ["name"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )

    op.create_table(
        "department_name_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("old_name", sa.String(length=200), nullable=False),
        sa.Column("new_name", sa.String(length=200), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_department_name_history_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_name_history")),
    )
    op.create_index(
        op.f("ix_department_name_history_department_id"),
        "department_name_history",
        ["department_id"],
    )

    seal_certificate_fk = sa.ForeignKeyConstraint(
        ["current_certificate_id"],
        ["certificates.id"],
        name=op.f("fk_seals_current_certificate_id_certificates"),
    )
    op.create_table(
        "seals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("current_certificate_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("image_png", sa.LargeBinary(), nullable=True),
        sa.Column("image_source", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("valid_until", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("revocation_reason", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "algorithm IN ('rsa2048', 'rsa3072', 'p256', 'sm2')", name=op.f("ck_seals_algorithm")
        ),
        sa.CheckConstraint(
            "image_source IN ('generated', 'uploaded')", name=op.f("ck_seals_image_source")
        ),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'revoked', 'expired')", name=op.f("ck_seals_status")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_seals_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seals")),
        sa.UniqueConstraint("code", name=op.f("uq_seals_code")),
        *([seal_certificate_fk] if sqlite else []),
    )
    op.create_index(op.f("ix_seals_department_id"), "seals", ["department_id"])

    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("hierarchy", sa.String(length=8), nullable=False),
        sa.Column("profile", sa.String(length=16), nullable=False),
        sa.Column("issuer_certificate_id", sa.Integer(), nullable=True),
        sa.Column("seal_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("not_before", TIMESTAMP, nullable=False),
        sa.Column("not_after", TIMESTAMP, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.Column("revocation_reason", sa.String(length=64), nullable=True),
        sa.Column("superseded_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint("hierarchy IN ('rsa', 'sm2')", name=op.f("ck_certificates_hierarchy")),
        sa.CheckConstraint(
            "profile IN ('root_ca', 'issuing_ca', 'seal', 'tsa', 'ocsp')",
            name=op.f("ck_certificates_profile"),
        ),
        sa.CheckConstraint(
            "status IN ('valid', 'superseded', 'on_hold', 'revoked')",
            name=op.f("ck_certificates_status"),
        ),
        sa.ForeignKeyConstraint(
            ["issuer_certificate_id"],
            ["certificates.id"],
            name=op.f("fk_certificates_issuer_certificate_id_certificates"),
        ),
        sa.ForeignKeyConstraint(
            ["seal_id"], ["seals.id"], name=op.f("fk_certificates_seal_id_seals")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("hierarchy", "serial", name=op.f("uq_certificates_hierarchy_serial")),
        sa.UniqueConstraint("sha256", name=op.f("uq_certificates_sha256")),
    )
    op.create_index(
        op.f("ix_certificates_issuer_certificate_id"), "certificates", ["issuer_certificate_id"]
    )
    op.create_index(op.f("ix_certificates_seal_id"), "certificates", ["seal_id"])
    if not sqlite:
        op.create_foreign_key(
            op.f("fk_seals_current_certificate_id_certificates"),
            "seals",
            "certificates",
            ["current_certificate_id"],
            ["id"],
        )

    op.create_table(
        "crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_certificate_id", sa.Integer(), nullable=False),
        sa.Column("crl_number", sa.BigInteger(), nullable=False),
        sa.Column("this_update", TIMESTAMP, nullable=False),
        sa.Column("next_update", TIMESTAMP, nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_certificate_id"],
            ["certificates.id"],
            name=op.f("fk_crls_issuer_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crls")),
        sa.UniqueConstraint(
            "issuer_certificate_id",
            "crl_number",
            name=op.f("uq_crls_issuer_certificate_id_crl_number"),
        ),
    )

    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("seal_code", sa.String(length=32), nullable=True),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("document_hash", sa.String(length=128), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
    )
    for column in ("action", "at", "department_code", "seal_code"):
        op.create_index(op.f(f"ix_audit_entries_{column}"), "audit_entries", [column])

    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "entry_hash": GENESIS_HASH}])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(
            op.f("fk_seals_current_certificate_id_certificates"), "seals", type_="foreignkey"
        )
    for table in (
        "audit_head",
        "audit_entries",
        "crls",
        "certificates",
        "seals",
        "department_name_history",
        "departments",
    ):
        op.drop_table(table)
