"""Engine and sessions for SQLite (default) and PostgreSQL, with the same code for both.

SQLite write transactions start with ``BEGIN IMMEDIATE`` so two processes never both read the
audit chain's head and then race to append; WAL keeps readers going meanwhile. PostgreSQL uses
an advisory lock for the same purpose (see :mod:`storage.audit`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlmodel import Session

from storage.audit import KEY_INFO


def normalise_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; for SQLite create the folder, turn on WAL, foreign keys and
    secure_delete."""
    url = normalise_url(url)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN can be IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Deleted content is overwritten with zeros, so purged mail does not linger in free
        # pages (storage/purge.py checkpoints the WAL after a purge for the same reason).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql(f"BEGIN {mode}")


def schema_ready(url: str) -> bool:
    """Whether ``dsrbot init`` has created the schema here (without creating a SQLite file).

    False also when the database cannot be reached: the caller's one-line advice is the same
    first step either way, and ``dsrbot doctor`` tells the two apart.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    url = normalise_url(url)
    local_file = url.startswith("sqlite:///") and ":memory:" not in url
    if local_file and not Path(url[len("sqlite:///"):]).is_file():
        return False
    engine = create_engine(url) if url.startswith("sqlite") else make_engine(url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


class Database:
    """Owns the engine; hands out sessions. Passed explicitly, never a global."""

    def __init__(self, url: str, *, audit_key: bytes | None = None) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        #: Every session carries it so :func:`storage.audit.record` keys each entry it writes.
        self._info: dict[str, Any] = {KEY_INFO: audit_key} if audit_key else {}

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any exception."""
        with Session(self.engine, expire_on_commit=False, info=dict(self._info)) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only session that does not take SQLite's write lock (long exports)."""
        if is_sqlite(self.engine):
            conn = self.engine.connect().execution_options(sqlite_begin="DEFERRED")
            try:
                # Closing (not rolling back) keeps loaded objects readable after the block.
                with Session(bind=conn, expire_on_commit=False, info=dict(self._info)) as session:
                    yield session
            finally:
                conn.close()
        else:
            with Session(self.engine, expire_on_commit=False, info=dict(self._info)) as session:
                yield session

    def dispose(self) -> None:
        self.engine.dispose()
