"""Shared storage for several nodes on one database, and a per-seal usage limit.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

With PostgreSQL nothing another node needs may live in one node's data directory
(issue #19): the key store (its header and one envelope per key, the same bytes as the
files of the directory layout), sealed licence files and the rate-limit buckets of API
keys.  (In-process caches need no counter of their own: they are keyed by the audit
chain's head, which every state change moves.)  SQLite data
directories keep their files; the tables then stay empty.  ``seals.usage_limit`` is the
per-seal key usage limit (``sealctl seal set-limit``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "keystore_header",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_keystore_header_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_keystore_header")),
    )
    op.create_table(
        "key_envelopes",
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_key_envelopes")),
    )
    op.create_table(
        "stored_files",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", name=op.f("pk_stored_files")),
    )
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_rate_limit_buckets")),
    )
    with op.batch_alter_table("seals") as batch:
        batch.add_column(sa.Column("usage_limit", sa.Integer(), nullable=True))


def downgrade() -> None:
    # A plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): batch mode would copy and drop
    # the seals table, which the certificates' foreign keys refuse once seals exist.
    op.drop_column("seals", "usage_limit")
    for table in (
        "rate_limit_buckets",
        "stored_files",
        "key_envelopes",
        "keystore_header",
    ):
        op.drop_table(table)
