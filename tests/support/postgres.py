"""A real PostgreSQL server for the tests: Debian's binaries (scripts/install-services.sh), its
own cluster in a temporary directory, 127.0.0.1 on a free port, fsync off; one per test run
(``postgres_server``), a fresh database per test (``postgres_url``), and a restart on the same
port and data (the reconnect tests).

PostgreSQL refuses to run as root, and CI runs as root: then every server command runs as the
``postgres`` system user (``runuser``) and the temporary directory belongs to it.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

_databases = itertools.count(1)


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run `sh scripts/install-services.sh` (make test does)")
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One PostgreSQL cluster: ``start``, ``stop``, ``restart`` (same port, same data)."""

    def __init__(self, root: Path, port: int) -> None:
        self.bin = postgres_bin()
        self.root = root
        self.data = root / "data"
        self.port = port
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_postgres, str(self.bin / tool), *args], check=True, capture_output=True,
                              text=True, timeout=120)

    def init(self) -> None:
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = (f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Stop and start again: every open connection is cut, the data stays."""
        self.stop()
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        name = f"choreo_test_{next(_databases)}"
        self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-q", "-c",
                  f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server():
    root = Path(tempfile.mkdtemp(prefix="choreo-postgres-"))
    server = PostgresServer(root, free_port())
    server.init()
    server.start()
    try:
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh database on the test run's server."""
    return postgres_server.create_database()


async def copy_sqlite_into(source: Path, url: str, media_dir: Path) -> None:
    """Every row of a SQLite database (the built test library) into a fresh PostgreSQL database,
    both at the newest schema; the copied ids stay, and new ones continue after them."""
    from sqlalchemy import insert, select, text

    from storage import Database
    from storage.schema import metadata

    source_db = await Database.open(source)
    target_db = await Database.open(url, media_dir)
    try:
        async with source_db.engine.connect() as read, target_db.engine.begin() as write:
            for table in metadata.sorted_tables:
                rows = [dict(r._mapping) for r in await read.execute(select(table))]
                if rows:
                    await write.execute(insert(table), rows)
                if "id" in table.c and table.c.id.autoincrement is not False and table.c.id.type.python_type is int:
                    await write.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                             f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
    finally:
        await source_db.close()
        await target_db.close()
