"""The signature pad: signing requests and persons' saved signature images.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def _provider_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["provider_id"],
        ["identity_providers.id"],
        name=op.f(f"fk_{table}_provider_id_identity_providers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "signature_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("image_png", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        _provider_fk("signature_images"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature_images")),
        sa.UniqueConstraint(
            "provider_id",
            "subject",
            "id_hash",
            name=op.f("uq_signature_images_provider_id_subject_id_hash"),
        ),
    )
    op.create_index(op.f("ix_signature_images_provider_id"), "signature_images", ["provider_id"])
    op.create_table(
        "signing_requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.String(length=16), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("id_type", sa.String(length=32), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("id_masked", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("person_role", sa.String(length=100), nullable=True),
        sa.Column("token_id", sa.String(length=255), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("document_kind", sa.String(length=8), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("signed_at", TIMESTAMP, nullable=True),
        sa.Column("result", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'signed', 'expired', 'cancelled')",
            name=op.f("ck_signing_requests_signing_request_status"),
        ),
        _provider_fk("signing_requests"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_requests")),
    )
    op.create_index(op.f("ix_signing_requests_api_key_id"), "signing_requests", ["api_key_id"])
    op.create_index(op.f("ix_signing_requests_provider_id"), "signing_requests", ["provider_id"])
    op.create_index(op.f("ix_signing_requests_expires_at"), "signing_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_table("signing_requests")
    op.drop_table("signature_images")
