"""The licence library (电子证照库, issue #21 §1): its trust roots, collected licences,
grants and 亮证 codes.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-04

New tables only; nothing existing changes.  Licences sealsvc issues are not copied: the
library reads them from ``licences``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
_STATUS = "status IN ('valid', 'annulled', 'superseded')"


def upgrade() -> None:
    op.create_table(
        "library_trust_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("added_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_trust_anchors")),
        sa.UniqueConstraint("sha256", name=op.f("uq_library_trust_anchors_sha256")),
    )
    op.create_table(
        "collected_licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=160), nullable=False),
        sa.Column("number", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("issuer_name", sa.String(length=200), nullable=False),
        sa.Column("issuer_code", sa.String(length=18), nullable=False),
        sa.Column("issue_date", sa.String(length=10), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_key", sa.String(length=64), nullable=False),
        sa.Column("holder_code_shown", sa.String(length=64), nullable=False),
        sa.Column("holder_code_type", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.String(length=10), nullable=False),
        sa.Column("valid_until", sa.String(length=10), nullable=False),
        sa.Column("face", sa.Text(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_changed_at", TIMESTAMP, nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("annul_kind", sa.String(length=16), nullable=True),
        sa.Column("collected_at", TIMESTAMP, nullable=False),
        sa.Column("collected_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(_STATUS, name=op.f("ck_collected_licences_collected_licence_status")),
        sa.CheckConstraint(
            "format IN ('pdf', 'ofd')", name=op.f("ck_collected_licences_collected_licence_format")
        ),
        sa.CheckConstraint(
            "annul_kind IN ('revoked', 'cancelled')",
            name=op.f("ck_collected_licences_collected_annul_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collected_licences")),
        sa.UniqueConstraint("identifier", name=op.f("uq_collected_licences_identifier")),
        sa.UniqueConstraint("document_sha256", name=op.f("uq_collected_licences_document_sha256")),
    )
    for column in ("number", "type_code", "holder_key"):
        op.create_index(op.f(f"ix_collected_licences_{column}"), "collected_licences", [column])
    op.create_table(
        "library_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("type_code", sa.String(length=21), nullable=False),
        sa.Column("granted_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_library_grants_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_grants")),
        sa.UniqueConstraint(
            "department_id", "type_code", name=op.f("uq_library_grants_department_id_type_code")
        ),
    )
    op.create_index(op.f("ix_library_grants_department_id"), "library_grants", ["department_id"])
    op.create_table(
        "library_show_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hmac", sa.String(length=64), nullable=False),
        sa.Column("holder_key", sa.String(length=64), nullable=False),
        sa.Column("identifier", sa.String(length=160), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_library_show_codes")),
    )
    op.create_index(op.f("ix_library_show_codes_holder_key"), "library_show_codes", ["holder_key"])


def downgrade() -> None:
    op.drop_table("library_show_codes")
    op.drop_table("library_grants")
    op.drop_table("collected_licences")
    op.drop_table("library_trust_anchors")
