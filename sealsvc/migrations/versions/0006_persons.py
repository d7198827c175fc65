"""Personal e-signatures: identity providers, used token ids, persons, person certificates.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

Person certificates live in the certificates table under three new profiles (the personal
CA, officials' long-lived certificates, event certificates); the profile CHECK is widened
as revision 0005 did it.  The ID-number salt (``installation_secrets``) is made by
``sealctl init``/the first start, or by the first person operation of an older data
directory: a migration does not generate secrets.
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)
_OLD_PROFILES = "profile IN ('root_ca', 'issuing_ca', 'seal', 'tsa', 'ocsp', 'seal_maker')"
_NEW_PROFILES = (
    "profile IN ('root_ca', 'issuing_ca', 'seal', 'tsa', 'ocsp', 'seal_maker', "
    "'person_ca', 'person', 'person_event')"
)
# Revision 0005's helper, reused (its module name starts with a digit, hence importlib).
_replace_profile_check = importlib.import_module(
    "sealsvc.migrations.versions.0005_ses_seals"
)._replace_profile_check


def upgrade() -> None:
    _replace_profile_check(_OLD_PROFILES, _NEW_PROFILES)
    op.create_table(
        "installation_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_installation_secrets")),
    )
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("issuer", sa.String(length=500), nullable=False),
        sa.Column("audience", sa.String(length=500), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=True),
        sa.Column("jwks_url", sa.String(length=1000), nullable=True),
        sa.Column("claims", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_providers")),
        sa.UniqueConstraint("name", name=op.f("uq_identity_providers_name")),
        sa.UniqueConstraint("issuer", name=op.f("uq_identity_providers_issuer")),
    )
    op.create_table(
        "identity_token_uses",
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.String(length=255), nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["identity_providers.id"],
            name=op.f("fk_identity_token_uses_provider_id_identity_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "token_id", name=op.f("pk_identity_token_uses")),
    )
    op.create_index(
        op.f("ix_identity_token_uses_expires_at"), "identity_token_uses", ["expires_at"]
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_type", sa.String(length=32), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("id_masked", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("role", sa.String(length=100), nullable=True),
        sa.Column("hierarchy", sa.String(length=8), nullable=False),
        sa.Column("key_id", sa.String(length=128), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'revoked')", name=op.f("ck_persons_person_status")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["identity_providers.id"],
            name=op.f("fk_persons_provider_id_identity_providers"),
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_persons_certificate_id_certificates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("provider_id", "subject", name=op.f("uq_persons_provider_id_subject")),
    )
    op.create_index(op.f("ix_persons_provider_id"), "persons", ["provider_id"])
    op.create_index(op.f("ix_persons_id_hash"), "persons", ["id_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_persons_id_hash"), table_name="persons")
    op.drop_index(op.f("ix_persons_provider_id"), table_name="persons")
    op.drop_table("persons")
    op.drop_index(op.f("ix_identity_token_uses_expires_at"), table_name="identity_token_uses")
    op.drop_table("identity_token_uses")
    op.drop_table("identity_providers")
    op.drop_table("installation_secrets")
    op.execute(
        "DELETE FROM crls WHERE issuer_certificate_id IN "
        "(SELECT id FROM certificates WHERE profile = 'person_ca')"
    )
    op.execute("DELETE FROM certificates WHERE profile IN ('person', 'person_event')")
    op.execute("DELETE FROM certificates WHERE profile = 'person_ca'")
    _replace_profile_check(_NEW_PROFILES, _OLD_PROFILES)
