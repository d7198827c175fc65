"""API keys of approval systems and issued licences.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_api_keys_department_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )
    op.create_index(op.f("ix_api_keys_department_id"), "api_keys", ["department_id"])
    op.create_table(
        "licences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("seal_codes", sa.Text(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", TIMESTAMP, nullable=False),
        sa.Column("status_changed_at", TIMESTAMP, nullable=True),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("previous_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('valid', 'annulled', 'superseded')", name=op.f("ck_licences_licence_status")
        ),
        sa.ForeignKeyConstraint(
            ["previous_id"], ["licences.id"], name=op.f("fk_licences_previous_id_licences")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licences")),
        sa.UniqueConstraint("number", "version", name=op.f("uq_licences_number_version")),
        sa.UniqueConstraint("document_sha256", name=op.f("uq_licences_document_sha256")),
    )
    op.create_index(op.f("ix_licences_number"), "licences", ["number"])


def downgrade() -> None:
    op.drop_index(op.f("ix_licences_number"), table_name="licences")
    op.drop_table("licences")
    op.drop_index(op.f("ix_api_keys_department_id"), table_name="api_keys")
    op.drop_table("api_keys")
