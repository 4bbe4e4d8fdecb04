"""The database: SQLAlchemy Core on its asyncio drivers (aiosqlite for SQLite, asyncpg for
PostgreSQL), one code path for both; migrations at open; every write one transaction.

The repositories write portable SQL with ``?`` placeholders and ``NOW`` (the current time in the
columns' text format, a parameter the process computes); :class:`Statements` binds them.

SQLite: one connection per process (the pool of one queues transactions, as one connection did
before), WAL, foreign keys, and ``BEGIN IMMEDIATE`` for transactions, so a write never waits on a
read lock it cannot upgrade. PostgreSQL: a pool checked before each use (``pool_pre_ping``), so a
restarted server costs nothing but a reconnect; conditional updates, unique keys and row locks
(``FOR UPDATE``) keep two processes from doing one change twice.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Sequence

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from . import migrations

NOW = ":now"  # in a statement: the time it runs (UTC text, milliseconds: see storage.schema)

# SQLSTATE classes of failures that pass: connection lost (08), transaction rolled back by a
# serialization failure or a deadlock (40), out of disk or memory (53), server shutting down or
# starting (57P)
_PASSING_SQLSTATES = ("08", "40", "53", "57P")
_SQLITE_BEGIN = "choreo_sqlite_begin"  # execution option: how a SQLite transaction begins


class PassingDatabaseError(Exception):
    """A failure that may pass: the database is busy, locked or full, the connection was lost,
    the server restarts, or it rolled the transaction back (a deadlock, a serialization failure).
    The error it stands for is its ``__cause__``."""


def utc_stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_passing(exc: BaseException) -> bool:
    if isinstance(exc, OSError):  # the server cannot be reached (refused, reset)
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, OperationalError):
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    return sqlstate.startswith(_PASSING_SQLSTATES)


@contextlib.contextmanager
def _passing_errors():
    """Raise the database's passing failures as :class:`PassingDatabaseError`."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        if is_passing(exc):
            raise PassingDatabaseError(str(exc).splitlines()[0]) from exc
        raise


def _dropped(exc: PassingDatabaseError) -> bool:
    """Whether the connection was found dead (the server restarted): another one may work."""
    cause = exc.__cause__
    return isinstance(cause, DBAPIError) and cause.connection_invalidated


class Record(tuple):
    """A row: its values by column name (``row["id"]``) or position; ``dict(row)`` works."""

    def __new__(cls, values: Iterable[Any], index: dict[str, int]) -> "Record":
        record = super().__new__(cls, values)
        record._index = index
        return record

    def __getitem__(self, key):
        return super().__getitem__(self._index[key] if isinstance(key, str) else key)

    def keys(self):
        return self._index.keys()


class Outcome:
    """What a statement did: the rows it returned and how many rows it changed."""

    def __init__(self, rows: list[Record], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    async def fetchone(self) -> Record | None:
        return self.rows[0] if self.rows else None

    async def fetchall(self) -> list[Record]:
        return self.rows


def bind(sql: str, params: Sequence[Any] = ()) -> tuple[Any, dict[str, Any]]:
    """A ``?``-placeholder statement as SQLAlchemy text with named parameters (``NOW`` included)."""
    pieces = sql.split("?")
    if len(pieces) != len(params) + 1:
        raise ValueError(f"{len(pieces) - 1} placeholders, {len(params)} parameters: {sql}")
    # colons in the statement are literal (a JSON or time format), except the NOW parameter
    pieces = [re.sub(r":(?!now\b)", r"\\:", piece) for piece in pieces]
    named = "".join(piece + (f":p{i}" if i < len(params) else "") for i, piece in enumerate(pieces))
    values = {f"p{i}": value for i, value in enumerate(params)}
    if NOW in named:
        values["now"] = utc_stamp()
    return text(named), values


async def _outcome(conn: AsyncConnection, sql: str, params: Sequence[Any]) -> Outcome:
    with _passing_errors():
        result = await conn.execute(*bind(sql, params))
    if not result.returns_rows:
        return Outcome([], result.rowcount)
    index = {name: i for i, name in enumerate(result.keys())}
    return Outcome([Record(row, index) for row in result.all()], result.rowcount)


class Statements:
    """The statements of one transaction (or of :meth:`Database.exclusive`)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Outcome:
        return await _outcome(self.conn, sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        statement, _ = bind(sql, rows[0])
        with _passing_errors():
            await self.conn.execute(statement, [bind(sql, r)[1] for r in rows])


def database_url(target: str | Path) -> URL:
    """A SQLite file path or a database URL (``postgresql://`` means asyncpg) as the URL to open."""
    if isinstance(target, Path) or "://" not in str(target):
        return URL.create("sqlite+aiosqlite", database=str(Path(target)))
    url = make_url(str(target))
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+asyncpg")
    elif url.drivername == "sqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    return url


def _sqlite_engine(url: URL) -> AsyncEngine:
    engine = create_async_engine(url, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0,
                                 pool_timeout=120)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # transactions begin where we say (below), not where the driver guesses
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn) -> None:
        begin = conn.get_execution_options().get(_SQLITE_BEGIN, "BEGIN IMMEDIATE")
        if begin:
            conn.exec_driver_sql(begin)

    return engine


class Database:
    """The process's way to the database; writes go through :meth:`transaction`.

    ``media_dir`` is the root of the files the rows refer to (songs, previews, renders, library
    videos and poses): by default the SQLite file's folder; a server database needs it given.
    """

    def __init__(self, engine: AsyncEngine, media_dir: Path, path: Path | None) -> None:
        self.engine = engine
        self.media_dir = media_dir
        self.path = path  # the SQLite file (None for a server database)
        self.dialect = engine.dialect.name
        # SQLite reads run outside a transaction (one statement is consistent by itself)
        self._read_options = {_SQLITE_BEGIN: None} if self.dialect == "sqlite" else {}

    @classmethod
    async def open(cls, target: str | Path, media_dir: str | Path | None = None) -> "Database":
        """Open (and migrate) a SQLite file (a path) or a database URL."""
        url = database_url(target)
        path = Path(url.database) if url.get_backend_name() == "sqlite" else None
        if media_dir is None and path is None:
            raise ValueError("a database server needs the media directory given (CHOREO_MEDIA_DIR)")
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = _sqlite_engine(url)
        else:
            engine = create_async_engine(url, pool_pre_ping=True)
        db = cls(engine, Path(media_dir) if media_dir is not None else path.parent, path)
        try:
            await db.migrate()
        except BaseException:
            await engine.dispose()
            raise
        return db

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> "Database":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def migrate(self) -> None:
        async with self.transaction() as statements:
            if self.dialect == "postgresql":  # two processes starting at once migrate one after the other
                await statements.execute("SELECT pg_advisory_xact_lock(4242)")
            await statements.conn.run_sync(migrations.upgrade)

    async def revision(self) -> str | None:
        """The Alembic revision the schema is at."""
        row = await self.fetchone("SELECT version_num FROM alembic_version")
        return row[0] if row else None

    async def _connect(self, **options: Any) -> AsyncConnection:
        """A pooled connection; a dropped one (a restarted server) is replaced once."""
        for attempt in (1, 2):
            try:
                with _passing_errors():
                    conn = await self.engine.connect()
                    return await conn.execution_options(**options) if options else conn
            except PassingDatabaseError as exc:
                if attempt == 2 or not _dropped(exc):
                    raise
        raise AssertionError("unreachable")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """One transaction: all of it is written, or (on any exception) none of it."""
        conn = await self._connect()
        try:
            with _passing_errors():
                transaction = await conn.begin()
            try:
                yield Statements(conn)
            except BaseException:
                with contextlib.suppress(Exception):
                    await transaction.rollback()
                raise
            with _passing_errors():
                await transaction.commit()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    @contextlib.asynccontextmanager
    async def exclusive(self) -> AsyncIterator[Statements]:
        """A connection with no transaction of this process running meanwhile (SQLite: VACUUM,
        checkpoints and pragmas; the pool holds one connection)."""
        conn = await self._connect(**self._read_options)
        try:
            yield Statements(conn)
            await conn.commit()
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        for attempt in (1, 2):
            conn = await self._connect(**self._read_options)
            try:
                return (await _outcome(conn, sql, params)).rows
            except PassingDatabaseError as exc:
                if attempt == 2 or not _dropped(exc):
                    raise
            finally:
                with contextlib.suppress(Exception):
                    await conn.close()
        raise AssertionError("unreachable")

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Record | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None
