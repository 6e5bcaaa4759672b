"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, and service guards.

PostgreSQL tests need ``DSRBOT_TEST_POSTGRES_URL`` (a server URL; each run creates and drops
its own database). Without it they skip with a reason, unless ``DSRBOT_REQUIRE_SERVICES=1``
(set by .ci/run), when a missing service is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage import migrate
from storage.db import Database, normalise_url
from storage.register import ensure_default_parties

PG_ENV = "DSRBOT_TEST_POSTGRES_URL"


@pytest.fixture(scope="session", autouse=True)
def _desk_on_a_free_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Services started by tests serve the staff desk on a free port, never the fixed 8026
    (several services, and other checkouts' tests, run on one machine at once). The CLI's
    settings snapshots (bot.cli.quick) go to the run's own cache folder, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DSRBOT_WEB__PORT", os.environ.get("DSRBOT_TEST_WEB_PORT", "0"))
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


def require_services() -> bool:
    return os.environ.get("DSRBOT_REQUIRE_SERVICES") == "1"


def missing_service(reason: str) -> None:
    """Skip visibly, or fail when CI demands every service."""
    if require_services():
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        missing_service(f"PostgreSQL tests need {PG_ENV}")
    assert url is not None
    return normalise_url(url)


@pytest.fixture
def pg_database(pg_server_url: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for one test."""
    name = f"dsrbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # server down or unreachable
        admin.dispose()
        missing_service(f"PostgreSQL at {PG_ENV} is not reachable: {exc.__class__.__name__}")
    base, _, _ = pg_server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'dsrbot.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dsrbot.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated database (SQLite and PostgreSQL) with the default parties."""
    migrate.upgrade(db_url)
    database = Database(db_url)
    with database.session() as session:
        ensure_default_parties(session)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    migrate.upgrade(sqlite_url)
    database = Database(sqlite_url)
    with database.session() as session:
        ensure_default_parties(session)
    yield database
    database.dispose()
