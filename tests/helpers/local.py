"""What every test process shares: the test key stores' passphrase, a free TCP port, and
the handle of the throw-away PostgreSQL server (started by conftest's fixture)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import psycopg

TEST_PASSPHRASE = "test passphrase, not a secret"


@dataclass(frozen=True)
class PostgresServer:
    """A running throw-away PostgreSQL server; ``new_database()`` gives an empty database."""

    host: str
    port: int
    user: str

    def admin_url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.admin_url(), autocommit=True) as connection:
            connection.execute(sql)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server a test starts)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
