"""Alembic environment for sealsvc, driven from code (:func:`sealsvc.db.alembic_config`).

There is no ``alembic.ini``: :meth:`sealsvc.db.Database.migrate` passes its open connection
in ``config.attributes["connection"]`` and the migration runs inside that transaction. On
PostgreSQL a transaction-scoped advisory lock makes service nodes that start together
migrate one after the other instead of racing on the same ``CREATE TABLE``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from sealsvc.models import Base

MIGRATION_LOCK_KEY = 0x5EA15AC  # arbitrary, constant: "sealsvc migrations"


def run_migrations(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run sealsvc migrations through sealsvc.db.Database.migrate()")
run_migrations(connection)
